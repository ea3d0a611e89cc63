//go:build !unix

package volumes

import "io/fs"

func devIno(fs.FileInfo) (dev, ino uint64) { return 0, 0 }

func links(fs.FileInfo) uint64 { return 1 }

func blockBytes(fi fs.FileInfo) uint64 { return uint64(fi.Size()) }
