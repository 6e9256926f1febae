// Package deploy has no code of its own: its tests check the files
// operators deploy Quench with — the Containerfile, the Kubernetes
// manifests under deploy/kubernetes and the systemd unit under
// deploy/systemd — with the tools that consume them (podman, a
// Kubernetes schema and kustomize, systemd-analyze) and by running the
// binary the image ships the way the image runs it.
package deploy
