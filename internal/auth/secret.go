package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// TokenPrefix marks Quench API tokens so secret scanners can find leaks.
const TokenPrefix = "qnch_"

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewSecret returns a random token string with the given prefix.
func NewSecret(prefix string) string {
	b := make([]byte, 32)
	rand.Read(b)
	return prefix + strings.ToLower(b32.EncodeToString(b))
}

// HashToken is how tokens are stored: they carry 256 random bits, so a fast
// hash is enough and lookups stay one index probe.
func HashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// Hasher hashes passwords with argon2id. Tests use cheaper parameters; the
// parameters travel inside each hash, so both verify everywhere.
type Hasher struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultHasher is OWASP's minimum for argon2id (19 MiB, two passes, one
// lane). Each hash holds its memory for the whole computation, so this is
// what one sign-in attempt costs the server: a small server must afford one
// per CPU at once. Hashes made with older, larger parameters (RFC 9106's
// 64 MiB, t=3, p=2) still verify, since the parameters travel in the hash.
var DefaultHasher = Hasher{Memory: 19 << 10, Time: 2, Threads: 1}

// MinPasswordLength keeps out the shortest guessable passwords.
const MinPasswordLength = 10

// CheckPassword enforces the password policy.
func CheckPassword(pw string) error {
	if len([]rune(pw)) < MinPasswordLength {
		return fmt.Errorf("password must have at least %d characters", MinPasswordLength)
	}
	if len(pw) > 1024 {
		return errors.New("password is too long")
	}
	return nil
}

// Hash returns a PHC-formatted argon2id hash of pw.
func (h Hasher) Hash(pw string) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, h.Time, h.Memory, h.Threads, 32)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, h.Memory, h.Time, h.Threads, enc.EncodeToString(salt), enc.EncodeToString(key))
}

// VerifyPassword checks pw against a hash made by Hash, in constant time.
func VerifyPassword(hash, pw string) bool {
	p, salt, want, ok := parseHash(hash)
	if !ok {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// Outdated reports whether hash was made with other parameters than h's, so
// a successful sign-in can store a fresh hash.
func (h Hasher) Outdated(hash string) bool {
	p, _, _, ok := parseHash(hash)
	return !ok || p != h
}

// parseHash reads a PHC-formatted argon2id hash, refusing parameters no
// hash of ours has, so a stored value cannot make us allocate gigabytes.
func parseHash(hash string) (p Hasher, salt, key []byte, ok bool) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return p, nil, nil, false
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, nil, nil, false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, false
	}
	if p.Memory > 1<<20 || p.Time > 16 || p.Threads == 0 {
		return p, nil, nil, false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[4])
	key, err2 := enc.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(key) == 0 {
		return p, nil, nil, false
	}
	return p, salt, key, true
}
