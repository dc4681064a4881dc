#include "textflag.h"

// entry is gorae-init's ELF entry point (scripts/build.sh links with
// -E main.entry): it runs before Go's runtime, on the process's only
// thread, and then jumps to Go's own entry. It exists for what a Go
// program cannot do once its runtime has started threads: setns into an
// existing user namespace (the kernel wants a single-threaded caller). The
// runtime (internal/runtime/userns_linux.go) asks for it by passing:
//
//	fd 200  the user namespace to join (checked with NS_GET_NSTYPE; any
//	        other fd 200 is left alone);
//	fd 201  a socket holding 8 bytes: the clone flags of the namespaces to
//	        create once inside it, so they are owned by that user namespace,
//	        as runc's are. With CLONE_NEWPID this process forks (CLONE_PARENT:
//	        the child is the runtime's child and pid 1 of the new namespace),
//	        writes the child's pid back on fd 201 and exits; the child goes on.
//
// A failure exits with 121 (setns), 122 (unshare), 123 (the flags), 124
// (fork) or 125 (becoming root in the namespace); the runtime names them.
TEXT ·entry(SB),NOSPLIT|NOFRAME,$0
	// ioctl(200, NS_GET_NSTYPE) == CLONE_NEWUSER?
	MOVQ	$16, AX
	MOVQ	$200, DI
	MOVQ	$0xb703, SI
	SYSCALL
	CMPQ	AX, $0x10000000
	JNE	gostart
	// setns(200, CLONE_NEWUSER); close(200)
	MOVQ	$308, AX
	MOVQ	$200, DI
	MOVQ	$0x10000000, SI
	SYSCALL
	CMPQ	AX, $0
	JNE	failsetns
	MOVQ	$3, AX
	MOVQ	$200, DI
	SYSCALL
	// Become the namespace's root, as runc does: our host ids mean nothing
	// in it (files made with them would be EOVERFLOW), and its root holds
	// every capability there. setresgid(0, 0, 0); setresuid(0, 0, 0)
	MOVQ	$119, AX
	MOVQ	$0, DI
	MOVQ	$0, SI
	MOVQ	$0, DX
	SYSCALL
	CMPQ	AX, $0
	JNE	failroot
	MOVQ	$117, AX
	MOVQ	$0, DI
	MOVQ	$0, SI
	MOVQ	$0, DX
	SYSCALL
	CMPQ	AX, $0
	JNE	failroot
	// fcntl(201, F_GETFD): flags to unshare?
	MOVQ	$72, AX
	MOVQ	$201, DI
	MOVQ	$1, SI
	SYSCALL
	CMPQ	AX, $0
	JLT	gostart
	// read(201, -8(SP), 8): below the initial stack pointer is free.
	MOVQ	$0, AX
	MOVQ	$201, DI
	LEAQ	-8(SP), SI
	MOVQ	$8, DX
	SYSCALL
	CMPQ	AX, $8
	JNE	failflags
	MOVQ	-8(SP), R12
	// unshare(flags)
	MOVQ	$272, AX
	MOVQ	R12, DI
	SYSCALL
	CMPQ	AX, $0
	JNE	failunshare
	// A new pid namespace takes in children only: fork into it.
	MOVQ	R12, AX
	ANDQ	$0x20000000, AX
	JEQ	close201
	// clone(CLONE_PARENT|SIGCHLD, 0, 0, 0, 0)
	MOVQ	$56, AX
	MOVQ	$0x8011, DI
	MOVQ	$0, SI
	MOVQ	$0, DX
	MOVQ	$0, R10
	MOVQ	$0, R8
	SYSCALL
	CMPQ	AX, $0
	JLT	failfork
	JEQ	child
	// The parent: the child's pid to the runtime, and done.
	MOVQ	AX, -8(SP)
	MOVQ	$1, AX
	MOVQ	$201, DI
	LEAQ	-8(SP), SI
	MOVQ	$8, DX
	SYSCALL
	MOVQ	$231, AX
	MOVQ	$0, DI
	SYSCALL
child:
	// A session of its own, as the process the runtime started had: a
	// terminal can only be made controlling by a session leader. setsid()
	MOVQ	$112, AX
	SYSCALL
close201:
	MOVQ	$3, AX
	MOVQ	$201, DI
	SYSCALL
gostart:
	JMP	_rt0_amd64_linux(SB)
failsetns:
	MOVQ	$121, DI
	JMP	exit
failunshare:
	MOVQ	$122, DI
	JMP	exit
failflags:
	MOVQ	$123, DI
	JMP	exit
failfork:
	MOVQ	$124, DI
	JMP	exit
failroot:
	MOVQ	$125, DI
exit:
	MOVQ	$231, AX
	SYSCALL
