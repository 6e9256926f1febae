// Package check holds the test of the Kubernetes manifests under
// deploy/kubernetes. It is a module of its own so that kustomize, the
// Kubernetes schemas and the Prometheus operator's types, which only this
// test needs, stay out of Quench's go.mod. ./scripts/test runs it.
package check
