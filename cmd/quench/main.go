// Command quench is a self-hosted incident management service for small
// service teams. Run `quench serve` to start it; `quench help` lists more.
package main

import (
	"context"
	"os"

	"github.com/quenchhq/quench/internal/cli"
)

func main() {
	os.Exit(cli.Run(context.Background(), os.Args[1:], cli.Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv,
	}))
}
