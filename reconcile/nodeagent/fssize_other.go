//go:build !unix

package nodeagent

func fsSize(string) int64 { return 0 }
