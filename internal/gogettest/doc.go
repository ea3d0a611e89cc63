// Package gogettest checks that podkit works as a dependency. Its test packs
// the working tree as a version of github.com/podkit/podkit behind a
// file-based module proxy, makes a separate module that requires that
// version with `go get`, and builds and runs in it the complete program
// README.md shows. What a user's `go get github.com/podkit/podkit` needs (no
// replace directive, a go.mod and go.sum that cover every dependency, every
// imported file inside the module zip) is thereby checked the way the go
// command checks it, and the README's example is kept compiling and working.
//
// The package has no code besides its test. The test is skipped with -short.
package gogettest
