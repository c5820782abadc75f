#include "textflag.h"

// func rdtsc() uint64: lfence; rdtsc; lfence -- the same ordered timestamp
// the C harness takes (bench/common.h).
TEXT ·rdtsc(SB),NOSPLIT,$0-8
	LFENCE
	RDTSC
	LFENCE
	SHLQ $32, DX
	ORQ DX, AX
	MOVQ AX, ret+0(FP)
	RET
