package scratchimage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// The pause program holds a pod's namespaces open and does nothing else. It
// is assembled here, byte by byte, instead of compiled, so a runtime backend
// can put a sandbox image into an engine on a machine with no registry and
// no Go toolchain: the whole program is a few hundred bytes of static ELF.
//
// What it does, on every architecture:
//
//	rt_sigaction(SIGTERM, &act, NULL, 8)
//	rt_sigaction(SIGINT,  &act, NULL, 8)
//	for { pause() }            // ppoll(NULL, 0, NULL, NULL) on arm64
//	handler: exit_group(0)
//
// As PID 1 of its namespace it would otherwise ignore SIGTERM (the kernel
// drops signals without a handler for init), and a `docker stop` of a
// sandbox would wait out the whole grace period.

// HandlesTermination reports whether process pid (of this machine's PID
// namespace) has installed its SIGTERM and SIGINT handlers, as
// /proc/<pid>/status tells: a pause program that has not yet ignores a
// SIGTERM sent to it as PID 1. Tests wait for it before stopping one.
func HandlesTermination(pid int) (bool, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false, err
	}
	const want = 1<<(syscall.SIGTERM-1) | 1<<(syscall.SIGINT-1)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "SigCgt:"); ok {
			cgt, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && cgt&want == want, err
		}
	}
	return false, fmt.Errorf("/proc/%d/status has no SigCgt", pid)
}

const pauseBase = 0x400000 // load address of the single PT_LOAD segment

const (
	elfHeaderSize     = 64
	programHeaderSize = 56
	codeOffset        = elfHeaderSize + programHeaderSize
)

// Pause returns the pause program for arch ("amd64" or "arm64", GOARCH
// names) as a static linux ELF executable.
func Pause(arch string) ([]byte, error) {
	var code []byte
	var machine uint16
	switch arch {
	case "amd64":
		code, machine = pauseAMD64(), 62 // EM_X86_64
	case "arm64":
		code, machine = pauseARM64(), 183 // EM_AARCH64
	default:
		return nil, fmt.Errorf("scratchimage: no pause program for %s (amd64 and arm64 are built in): configure a sandbox image", arch)
	}
	return elf(machine, code), nil
}

// elf wraps code, loaded at pauseBase+codeOffset and entered at its first
// byte, in a minimal ELF64 little-endian executable.
func elf(machine uint16, code []byte) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	w := func(v any) { _ = binary.Write(&b, le, v) }
	fileSize := uint64(codeOffset + len(code))

	b.Write([]byte{0x7f, 'E', 'L', 'F', 2 /* 64-bit */, 1 /* little endian */, 1 /* version */, 0 /* SysV ABI */})
	b.Write(make([]byte, 8))          // padding
	w(uint16(2))                      // e_type: ET_EXEC
	w(machine)                        // e_machine
	w(uint32(1))                      // e_version
	w(uint64(pauseBase + codeOffset)) // e_entry
	w(uint64(elfHeaderSize))          // e_phoff
	w(uint64(0))                      // e_shoff: no sections
	w(uint32(0))                      // e_flags
	w(uint16(elfHeaderSize))          // e_ehsize
	w(uint16(programHeaderSize))      // e_phentsize
	w(uint16(1))                      // e_phnum
	w(uint16(64))                     // e_shentsize
	w(uint16(0))                      // e_shnum
	w(uint16(0))                      // e_shstrndx
	w(uint32(1))                      // p_type: PT_LOAD
	w(uint32(5))                      // p_flags: R+X
	w(uint64(0))                      // p_offset
	w(uint64(pauseBase))              // p_vaddr
	w(uint64(pauseBase))              // p_paddr
	w(fileSize)                       // p_filesz
	w(fileSize)                       // p_memsz
	w(uint64(0x1000))                 // p_align
	b.Write(code)
	return b.Bytes()
}

// Linux constants shared by both architectures.
const (
	sigINT      = 2
	sigTERM     = 15
	saRestorer  = 0x04000000
	sigsetBytes = 8
)

// pauseAMD64 is the x86-64 machine code. x86-64 refuses to deliver a signal
// to a handler registered without SA_RESTORER, so the restorer is set; it is
// never reached because the handler exits.
func pauseAMD64() []byte {
	const (
		sysRtSigaction = 13
		sysPause       = 34
		sysExitGroup   = 231
	)
	imm32 := func(op []byte, v uint32) []byte {
		return binary.LittleEndian.AppendUint32(op, v)
	}
	var c []byte
	// Layout: setup (two rt_sigaction calls), loop, handler, then act.
	setup := func(act uint32) []byte {
		var s []byte
		s = append(s, imm32([]byte{0xbe}, act)...)               // mov esi, act
		s = append(s, 0x31, 0xd2)                                // xor edx, edx
		s = append(s, imm32([]byte{0x41, 0xba}, sigsetBytes)...) // mov r10d, 8
		s = append(s, imm32([]byte{0xb8}, sysRtSigaction)...)    // mov eax, rt_sigaction
		s = append(s, imm32([]byte{0xbf}, sigTERM)...)           // mov edi, SIGTERM
		s = append(s, 0x0f, 0x05)                                // syscall (keeps rsi, rdx, r10)
		s = append(s, imm32([]byte{0xb8}, sysRtSigaction)...)    // mov eax, rt_sigaction
		s = append(s, imm32([]byte{0xbf}, sigINT)...)            // mov edi, SIGINT
		s = append(s, 0x0f, 0x05)                                // syscall
		return s
	}
	loop := []byte{}
	loop = append(loop, imm32([]byte{0xb8}, sysPause)...) // mov eax, pause
	loop = append(loop, 0x0f, 0x05)                       // syscall
	loop = append(loop, 0xeb, byte(-int8(len(loop)+2)))   // jmp loop
	var handler []byte
	handler = append(handler, 0x31, 0xff)                           // xor edi, edi
	handler = append(handler, imm32([]byte{0xb8}, sysExitGroup)...) // mov eax, exit_group
	handler = append(handler, 0x0f, 0x05)                           // syscall

	setupLen := len(setup(0))
	handlerAddr := uint64(pauseBase + codeOffset + setupLen + len(loop))
	actOff := setupLen + len(loop) + len(handler)
	actOff += (8 - actOff%8) % 8
	actAddr := uint32(pauseBase + codeOffset + actOff)

	c = append(c, setup(actAddr)...)
	c = append(c, loop...)
	c = append(c, handler...)
	for len(c) < actOff {
		c = append(c, 0xcc) // int3 padding, never executed
	}
	// struct kernel_sigaction { handler; flags; restorer; mask }
	c = binary.LittleEndian.AppendUint64(c, handlerAddr)
	c = binary.LittleEndian.AppendUint64(c, saRestorer)
	c = binary.LittleEndian.AppendUint64(c, handlerAddr)
	c = binary.LittleEndian.AppendUint64(c, 0)
	return c
}

// pauseARM64 is the AArch64 machine code. arm64 has no pause(2); ppoll with
// no descriptors and no timeout sleeps until a signal arrives. Signal
// returns go through the vDSO, so no restorer is needed.
func pauseARM64() []byte {
	const (
		sysRtSigaction = 134
		sysPpoll       = 73
		sysExitGroup   = 94
		svc0           = 0xd4000001 // svc #0
	)
	movz := func(rd, imm uint32) uint32 { return 0xd2800000 | imm<<5 | rd } // movz xRd, #imm
	adr := func(rd uint32, off int32) uint32 {                              // adr xRd, pc+off
		imm := uint32(off) & 0x1fffff
		return 0x10000000 | (imm&3)<<29 | (imm>>2)<<5 | rd
	}
	branch := func(off int32) uint32 { return 0x14000000 | uint32(off/4)&0x3ffffff } // b pc+off

	ins := []uint32{
		0,                    // adr x1, act (patched below)
		movz(2, 0),           // x2 = NULL (old action)
		movz(3, sigsetBytes), // x3 = sizeof(sigset_t)
		movz(8, sysRtSigaction),
		movz(0, sigTERM),
		svc0, // arm64 syscalls keep every register but x0
		movz(8, sysRtSigaction),
		movz(0, sigINT),
		svc0,
	}
	loop := len(ins)
	ins = append(ins,
		movz(0, 0), movz(1, 0), movz(2, 0), movz(3, 0), // ppoll(NULL, 0, NULL, NULL)
		movz(8, sysPpoll),
		svc0,
	)
	ins = append(ins, branch(int32(loop-len(ins))*4))
	handler := len(ins)
	ins = append(ins,
		movz(0, 0),
		movz(8, sysExitGroup),
		svc0,
	)
	actOff := len(ins) * 4
	actOff += (8 - actOff%8) % 8
	ins[0] = adr(1, int32(actOff))

	var c []byte
	for _, in := range ins {
		c = binary.LittleEndian.AppendUint32(c, in)
	}
	for len(c) < actOff {
		c = append(c, 0)
	}
	handlerAddr := uint64(pauseBase + codeOffset + handler*4)
	c = binary.LittleEndian.AppendUint64(c, handlerAddr) // sa_handler
	c = binary.LittleEndian.AppendUint64(c, 0)           // sa_flags
	c = binary.LittleEndian.AppendUint64(c, 0)           // sa_restorer
	c = binary.LittleEndian.AppendUint64(c, 0)           // sa_mask
	return c
}
