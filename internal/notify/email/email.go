// Package email sends notifications over SMTP, through
// github.com/wneessen/go-mail.
//
// Each message has a plain-text part and an HTML part. The HTML part is a
// small template with inline styles (mail clients drop style sheets); the
// Markdown body goes through markdown.Render, and everything else through
// html/template's escaping, so a title like "<script>" arrives as text.
// Headers carry no user text except the Subject, from which line breaks
// and other control characters are removed: a title cannot add a header.
//
// # Threading
//
// One incident is one conversation in the reader's mail client. Every
// message about incident N names one root id,
//
//	<incident-N.CREATED@DOMAIN>
//
// where CREATED is the incident's creation time in Unix seconds (so a
// reinstalled Quench that counts from #1 again does not thread its new #1
// under the old one) and DOMAIN is the domain of the From address. The
// incident.opened message uses the root id as its own Message-ID; every
// other message has Message-ID <ID@DOMAIN> (ID is the outbox's idempotency
// key, so a retry of a message whose answer got lost is a duplicate the
// client recognises) and In-Reply-To and References both set to the root.
//
// Why a shared root rather than a chain (each message replying to the
// previous): the notifier is stateless and a recipient need not have
// received every message (a channel may skip events, personal e-mails join
// midway, a retried message may land after its successor), so the only id
// every message can name with certainty is the root. Thunderbird and
// other JWZ-style threaders group messages that share a References root
// even when the root itself never arrived; Gmail additionally requires the
// same Subject, and Apple Mail and Outlook lean on the Subject too. The
// Subject is therefore stable per incident, "[Quench] #12 <title>", and
// the event goes into the body's first line (which inbox previews show).
// A renamed incident starts a new conversation in Gmail; that is the
// price of a stable Subject that carries the title.
package email

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/mail"
	"net/netip"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"

	"github.com/quenchhq/quench/internal/notify"
)

// TLS modes.
const (
	// STARTTLS connects in plain text and upgrades with STARTTLS; a
	// server that does not offer it is refused (no silent downgrade).
	// Port 587 by default. The default mode.
	STARTTLS = "starttls"
	// ImplicitTLS speaks TLS from the first byte (SMTPS). Port 465.
	ImplicitTLS = "tls"
	// NoTLS never encrypts: only for a relay on the same machine. Port 25.
	NoTLS = "none"
)

// DefaultTimeout bounds one attempt when the context sets no earlier
// deadline.
const DefaultTimeout = 10 * time.Second

// GreylistWait is the wait asked for after a 4xx reply. Greylisting
// servers refuse the first attempt and accept one a few minutes later,
// so retrying within seconds only burns attempts.
const GreylistWait = time.Minute

// Config is how Quench reaches its SMTP server (QUENCH_SMTP_*).
type Config struct {
	Host string
	// Port 0 picks the TLS mode's port: 587, 465 or 25.
	Port     int
	Username string
	Password string
	// From is the sender, "Quench <quench@example.com>" or a bare
	// address. Its domain names the Message-IDs.
	From string
	// TLS is STARTTLS (also when empty), ImplicitTLS or NoTLS.
	TLS string
	// HeloName is the name sent in EHLO; empty uses the host name.
	HeloName string
	// RootCAs verifies the server's certificate; nil uses the system's.
	RootCAs *x509.CertPool
	// Timeout bounds one attempt; 0 is DefaultTimeout.
	Timeout time.Duration
}

// String describes c without its password.
func (c Config) String() string {
	pw := ""
	if c.Password != "" {
		pw = " password=<redacted>"
	}
	return fmt.Sprintf("smtp host=%s port=%d tls=%s user=%q%s from=%q", c.Host, c.port(), c.mode(), c.Username, pw, c.From)
}

// GoString keeps %#v from printing the password.
func (c Config) GoString() string { return c.String() }

func (c Config) mode() string {
	if c.TLS == "" {
		return STARTTLS
	}
	return c.TLS
}

func (c Config) port() int {
	if c.Port != 0 {
		return c.Port
	}
	switch c.mode() {
	case ImplicitTLS:
		return 465
	case NoTLS:
		return 25
	}
	return 587
}

// Validate reports what is wrong with c; the message never contains the
// password.
func (c Config) Validate() error {
	var errs []error
	if !hostname(c.Host) {
		errs = append(errs, errors.New("SMTP host must be a host name or an IP address"))
	}
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("SMTP port %d is not a port", c.Port))
	}
	switch c.mode() {
	case STARTTLS, ImplicitTLS, NoTLS:
	default:
		errs = append(errs, fmt.Errorf("SMTP TLS mode %q: want %q, %q or %q", c.TLS, STARTTLS, ImplicitTLS, NoTLS))
	}
	if _, err := parseFrom(c.From); err != nil {
		errs = append(errs, err)
	}
	if (c.Username == "") != (c.Password == "") {
		errs = append(errs, errors.New("SMTP user name and password go together"))
	}
	if c.Username != "" && c.mode() == NoTLS && !loopback(c.Host) {
		errs = append(errs, fmt.Errorf("SMTP TLS mode %q would send the password in clear text to %s: use %q or %q", NoTLS, c.Host, STARTTLS, ImplicitTLS))
	}
	if c.HeloName != "" && !hostname(c.HeloName) {
		errs = append(errs, errors.New("SMTP HELO name must be a host name"))
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("SMTP timeout must not be negative"))
	}
	return errors.Join(errs...)
}

func hostname(s string) bool {
	if _, ok := parseIP(s); ok {
		return true
	}
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, ok := parseIP(host)
	return ok && ip.IsLoopback()
}

func parseIP(s string) (netip.Addr, bool) {
	ip, err := netip.ParseAddr(strings.Trim(s, "[]"))
	return ip, err == nil && ip.Zone() == ""
}

func parseFrom(from string) (*mail.Address, error) {
	a, err := mail.ParseAddress(from)
	if err != nil || !strings.Contains(a.Address, "@") {
		return nil, fmt.Errorf("SMTP From %q is not an e-mail address", from)
	}
	return a, nil
}

// ValidateAddresses checks recipient addresses, as a channel is saved.
func ValidateAddresses(list []string) error {
	if len(list) == 0 {
		return errors.New("no recipients")
	}
	for _, a := range list {
		if _, err := parseAddress(a); err != nil {
			return err
		}
	}
	return nil
}

func parseAddress(s string) (*mail.Address, error) {
	a, err := mail.ParseAddress(s)
	if err != nil || !strings.Contains(a.Address, "@") || strings.ContainsAny(a.Address+a.Name, "\r\n") {
		return nil, fmt.Errorf("%q is not an e-mail address", s)
	}
	return a, nil
}

// Notifier sends to a fixed list of recipients, or to a message's own.
type Notifier struct {
	cfg        Config
	recipients []string
}

// New returns a notifier sending through cfg to recipients. Call
// cfg.Validate first; Notify refuses an invalid config.
func New(cfg Config, recipients []string) *Notifier {
	return &Notifier{cfg: cfg, recipients: append([]string{}, recipients...)}
}

// String describes the notifier without secrets.
func (n *Notifier) String() string {
	return fmt.Sprintf("email via %s:%d to %d recipients", n.cfg.Host, n.cfg.port(), len(n.recipients))
}

// GoString keeps %#v from printing the password.
func (n *Notifier) GoString() string { return n.String() }

var _ notify.Notifier = (*Notifier)(nil)

// Notify sends m to m.Recipients when set (a personal message), else to
// the channel's recipients. 4xx replies, refused connections and
// timeouts are retryable; 5xx replies, a rejected login and an untrusted
// certificate are not.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (bool, error) {
	if err := n.cfg.Validate(); err != nil {
		return false, err
	}
	to := n.recipients
	if len(m.Recipients) > 0 {
		to = m.Recipients
	}
	msg, err := compose(n.cfg, m, to)
	if err != nil {
		return false, err
	}
	timeout := n.cfg.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	if err := ctx.Err(); err != nil {
		return true, n.fail(err)
	}
	if timeout <= 0 {
		return true, n.fail(context.DeadlineExceeded)
	}
	c, err := n.client(timeout)
	if err != nil {
		return false, n.fail(err)
	}
	err = c.DialAndSendWithContext(ctx, msg)
	if err == nil || msg.IsDelivered() {
		// Delivered: a failing QUIT or RSET afterwards changes nothing.
		return false, nil
	}
	return n.classify(err)
}

func (n *Notifier) client(timeout time.Duration) (*gomail.Client, error) {
	cfg := n.cfg
	opts := []gomail.Option{
		gomail.WithPort(cfg.port()),
		gomail.WithTimeout(timeout),
		gomail.WithTLSConfig(&tls.Config{ServerName: strings.Trim(cfg.Host, "[]"), RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}),
	}
	switch cfg.mode() {
	case ImplicitTLS:
		opts = append(opts, gomail.WithSSL())
	case STARTTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case NoTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if cfg.HeloName != "" {
		opts = append(opts, gomail.WithHELO(cfg.HeloName))
	}
	if cfg.Username != "" {
		opts = append(opts, gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
		if cfg.mode() == NoTLS {
			// Validate allowed clear text to a loopback relay only.
			opts = append(opts, gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthSCRAMSHA1,
				gomail.SMTPAuthCramMD5, gomail.SMTPAuthPlainNoEnc, gomail.SMTPAuthLoginNoEnc))
		} else {
			opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover))
		}
	}
	host := cfg.Host
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]" // go-mail joins host and port with a plain ":"
	}
	return gomail.NewClient(host, opts...)
}

// classify maps a failed send to the notifier contract.
func (n *Notifier) classify(err error) (bool, error) {
	code := 0
	var se *gomail.SendError
	var te *textproto.Error
	switch {
	case errors.As(err, &se):
		code = se.ErrorCode()
		if code == 0 {
			switch se.Reason {
			case gomail.ErrGetSender, gomail.ErrGetRcpts, gomail.ErrNoUnencoded:
				return false, n.fail(err) // our message or config
			}
			return true, n.fail(err) // the connection broke
		}
	case errors.As(err, &te):
		code = te.Code
	}
	switch {
	case code >= 400 && code < 500:
		return true, &notify.RetryAfterError{After: GreylistWait, Err: n.fail(err)}
	case code >= 500:
		return false, n.fail(err)
	}
	var uae x509.UnknownAuthorityError
	var he x509.HostnameError
	var cie x509.CertificateInvalidError
	var cve *tls.CertificateVerificationError
	if errors.As(err, &uae) || errors.As(err, &he) || errors.As(err, &cie) || errors.As(err, &cve) {
		return false, n.fail(err) // wrong CA or host name: fixed by an admin, not by waiting
	}
	for _, perm := range []error{gosmtp.ErrUnencrypted, gosmtp.ErrWrongHostname, gomail.ErrNoSupportedAuthDiscovered,
		gomail.ErrPlainAuthNotSupported, gomail.ErrLoginAuthNotSupported} {
		if errors.Is(err, perm) {
			return false, n.fail(err)
		}
	}
	if strings.Contains(err.Error(), "does not support SMTP AUTH") {
		return false, n.fail(err)
	}
	return true, n.fail(err)
}

// fail returns err as a new error naming the server, with the password
// (and its base64, as SMTP AUTH sends it) removed from the text. The
// cause is not wrapped: nothing can unwrap the password back out.
func (n *Notifier) fail(err error) error {
	msg := err.Error()
	if pw := n.cfg.Password; pw != "" {
		msg = strings.ReplaceAll(msg, pw, "<redacted>")
		msg = strings.ReplaceAll(msg, base64.StdEncoding.EncodeToString([]byte(pw)), "<redacted>")
		if n.cfg.Username != "" {
			msg = strings.ReplaceAll(msg, base64.StdEncoding.EncodeToString([]byte("\x00"+n.cfg.Username+"\x00"+pw)), "<redacted>")
		}
	}
	msg = strings.Join(strings.Fields(msg), " ")
	return fmt.Errorf("smtp %s: %s", net.JoinHostPort(strings.Trim(n.cfg.Host, "[]"), strconv.Itoa(n.cfg.port())), msg)
}

// compose builds the e-mail for m: the team's kind, or for a message to
// a status page's customers the customer's kind (customer.go).
func compose(cfg Config, m notify.Message, to []string) (*gomail.Msg, error) {
	msg, domain, err := envelope(cfg, m, to)
	if err != nil {
		return nil, err
	}
	at := m.At
	if at.IsZero() {
		at = time.Now()
	}
	msg.SetDateWithValue(at)
	// Vacation responders and "out of office" rules stay quiet
	// (RFC 3834; Exchange reads the second).
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	msg.SetUserAgent("Quench")
	if m.Event.ForCustomers() {
		return msg, composeCustomer(msg, m, domain)
	}
	msg.Subject(Subject(m))

	root := ThreadRoot(m.Incident, domain)
	switch {
	case root == "":
		msg.SetMessageIDWithValue(idLeft(m.ID) + "@" + domain)
	case m.Event == notify.Opened:
		msg.SetMessageIDWithValue(strings.Trim(root, "<>"))
	default:
		msg.SetMessageIDWithValue(idLeft(m.ID) + "@" + domain)
		msg.SetGenHeaderPreformatted(gomail.HeaderInReplyTo, root)
		msg.SetGenHeaderPreformatted(gomail.HeaderReferences, root)
	}
	// For mail rules: filter by event or incident without parsing text.
	msg.SetGenHeader("X-Quench-Event", headerToken(string(m.Event)))
	if m.Incident.Number > 0 {
		msg.SetGenHeader("X-Quench-Incident", strconv.FormatInt(m.Incident.Number, 10))
	}
	v := view(m)
	return msg, setBody(msg, plainText(v), page, v)
}

// setBody adds the plain-text part and the HTML part t renders from v.
func setBody(msg *gomail.Msg, plain string, t *template.Template, v any) error {
	msg.SetBodyString(gomail.TypeTextPlain, plain)
	var b bytes.Buffer
	if err := t.Execute(&b, v); err != nil {
		return fmt.Errorf("email: rendering HTML: %w", err)
	}
	msg.AddAlternativeString(gomail.TypeTextHTML, b.String())
	return nil
}

// envelope starts the e-mail for m: sender, recipients, the checks every
// message passes. It returns the domain of its Message-IDs.
func envelope(cfg Config, m notify.Message, to []string) (*gomail.Msg, string, error) {
	from, err := parseFrom(cfg.From)
	if err != nil {
		return nil, "", err
	}
	if len(to) == 0 {
		return nil, "", errors.New("email: no recipients")
	}
	var rcpts []*mail.Address
	for _, a := range to {
		addr, err := parseAddress(a)
		if err != nil {
			return nil, "", fmt.Errorf("email: %w", err)
		}
		rcpts = append(rcpts, addr)
	}
	if m.ID == "" {
		return nil, "", errors.New("email: message without an ID")
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(from)
	msg.ToMailAddress(rcpts...)
	return msg, idDomain(from.Address), nil
}

// Subject is the stable subject of every message about m's incident:
// "[Quench] #12 Checkout p99 latency high", control characters removed
// and cut to 150 characters. A message without an incident (a channel
// test) uses its headline.
func Subject(m notify.Message) string {
	s := "[Quench] " + line(m.Headline)
	if m.Incident.Number > 0 {
		s = "[Quench] #" + strconv.FormatInt(m.Incident.Number, 10) + " " + line(m.Incident.Title)
	}
	return cut(strings.TrimSpace(s), 150)
}

// ThreadRoot is the id every message about inc refers to:
// "<incident-12.1795461078@example.com>"; "" for no incident.
func ThreadRoot(inc notify.Incident, domain string) string {
	if inc.Number <= 0 {
		return ""
	}
	id := "incident-" + strconv.FormatInt(inc.Number, 10)
	if !inc.CreatedAt.IsZero() {
		id += "." + strconv.FormatInt(inc.CreatedAt.Unix(), 10)
	}
	return "<" + id + "@" + domain + ">"
}

// idDomain is the right side of Message-IDs: the From domain when it is
// a plain ASCII domain, else "quench".
func idDomain(from string) string {
	d := strings.ToLower(from[strings.LastIndexByte(from, '@')+1:])
	if d == "" || !hostname(d) || strings.ContainsAny(d, "[]:_") {
		return "quench"
	}
	return d
}

// idLeft makes an outbox ID the left side of a Message-ID: kept as it is
// when it is a dot-atom of safe characters, hex-encoded otherwise (which
// keeps distinct IDs distinct).
func idLeft(id string) string {
	ok := !strings.HasPrefix(id, ".") && !strings.HasSuffix(id, ".") && !strings.Contains(id, "..")
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._+-=", r)) {
			ok = false
			break
		}
	}
	if ok && len(id) <= 200 {
		return id
	}
	return "x" + hex.EncodeToString([]byte(id))[:min(2*len(id), 200)]
}

// headerToken keeps the printable ASCII of s, for a header value.
func headerToken(s string) string {
	return strings.Map(func(r rune) rune {
		if r > ' ' && r < 0x7f {
			return r
		}
		return -1
	}, s)
}

// clean removes control characters except line breaks and tabs, and
// the Unicode line separators, bidi overrides and isolates that could
// make a line read differently than it is.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r == '\r':
			return -1
		case unicode.IsControl(r), r == '\u2028', r == '\u2029', r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
			return ' '
		}
		return r
	}, s)
}

// line is clean(s) on one line, white space collapsed.
func line(s string) string { return strings.Join(strings.Fields(clean(s)), " ") }

func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	end, count := 0, 0
	for i := range s {
		if count == n-1 {
			end = i
			break
		}
		count++
	}
	return strings.TrimRight(s[:end], " ") + "…"
}

// safeURL returns raw if it is an absolute http or https URL Quench may
// link to.
func safeURL(raw string) string {
	if raw == "" || len(raw) > 2000 || strings.IndexFunc(raw, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == '\\' }) >= 0 {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Opaque != "" {
		return ""
	}
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		return ""
	}
	return raw
}
