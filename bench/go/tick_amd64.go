package main

// rdtsc returns the time-stamp counter (tick_amd64.s).
func rdtsc() uint64

const timerName = "lfence+rdtsc"

func tick() uint64 { return rdtsc() }
