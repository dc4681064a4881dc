//go:build !embedengine

package main

import "errors"

// Without the embedengine tag (plain `go build`) there is no engine to
// hand commands to: cmd/gorae is the whole engine on its own.
func execEngine([]string) error {
	return errors.New("this binary is gorae's runtime front without its engine: build with `make build`, or use `go build ./cmd/gorae`")
}

// initProgram: without the embedded init, the front is its own
// containers' init.
func initProgram() (string, error) {
	return "", errors.New("no embedded init program")
}
