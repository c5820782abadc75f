//go:build !amd64

package main

import "time"

const timerName = "time.Now (monotonic)"

var tickBase = time.Now()

func tick() uint64 { return uint64(time.Since(tickBase)) }
