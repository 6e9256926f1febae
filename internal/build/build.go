// Package build tells which Quench this is: the version, the source
// revision and the Go release it was built with, for `quench version`, the
// quench_build_info metric and error reports. Everything comes from the
// build information the Go toolchain stamps into the binary; a release
// build can set the version with -ldflags "-X …/internal/build.version=v1.2.3"
// when it builds from a source tree without version control (a container
// build context, a tarball).
package build

import (
	"runtime"
	"runtime/debug"
)

// version is set at link time by release builds; empty otherwise.
var version string

// Info describes the running binary.
type Info struct {
	// Version is the module version (v1.2.3), the one set at link time,
	// or "dev" for a build from a work tree.
	Version string
	// Revision is the VCS commit the binary was built from, with
	// "-modified" when the work tree had changes; empty when unknown.
	Revision string
	// GoVersion is the Go release that built it (go1.26.8).
	GoVersion string
}

// Read returns the build information of the running binary.
func Read() Info {
	info := Info{Version: "dev", GoVersion: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			info.Version = v
		}
		if bi.GoVersion != "" {
			info.GoVersion = bi.GoVersion
		}
		modified := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Revision = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && info.Revision != "" {
			info.Revision += "-modified"
		}
	}
	if version != "" {
		info.Version = version
	}
	return info
}

// String is the one line `quench version` prints.
func (i Info) String() string {
	s := i.Version
	if i.Revision != "" {
		s += " (" + i.Revision + ")"
	}
	return s + " " + i.GoVersion
}
