// Package deploy has no code of its own: its tests check the files
// operators deploy Quench with — the Containerfile and the systemd unit
// under deploy/systemd — with the tools that consume them (podman,
// systemd-analyze) and by running the binary the image ships the way the
// image runs it. The Kubernetes manifests are checked in deploy/check, a
// module of its own.
package deploy
