// Command bench_go is the Go row of gomap's side-by-side benchmark: Go's own
// built-in map, timed on exactly the workload of the C harness
// (bench/common.h, bench/driver.h) with the same keys, in the same order,
// and printing the same JSON line.  Built with Go 1.19, whose map is the
// classic bucket map that gomap rebuilds.
//
//	bench_go --kind u64|str|big --size N [--run R] [--series] [--ops LIST]
//
// Keys come from the splitmix64 stream the C harness uses: key index i is
// mix(seedKeys + (i+1)*gamma); indices [0,n) are inserted, [n,2n) are the
// misses, [2n, 2n+steps) are the churn's new keys.  String keys are the 16
// lowercase hex digits of the u64 key.  The value of key index i is i+1, so
// checksums agree with every C and C++ row.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	seedKeys  = 0x676f6d6170626e31
	seedPerm  = 0x676f6d6170626e32
	seedChurn = 0x676f6d6170626e33
	gamma     = 0x9e3779b97f4a7c15
)

const (
	opInsert = iota
	opInsertReserved
	opLookupHit
	opLookupMiss
	opErase
	opIterate
	opChurn
	opLookupBatch
	opIterateBatch
	opInsertBatch
	opInsertReservedBatch
	opEraseBatch
	opLookupMissBatch
	opChurnBatch
	opCount
)

var opNames = [opCount]string{"insert", "insert_reserved", "lookup_hit", "lookup_miss",
	"erase", "iterate", "churn", "lookup_batch", "iterate_batch", "insert_batch",
	"insert_reserved_batch", "erase_batch", "lookup_miss_batch", "churn_batch"}

func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func stream(seed, i uint64) uint64 { return mix(seed + (i+1)*gamma) }

func churnIndex(n, q int) int {
	if q < n {
		return q
	}
	return q + n
}

type config struct {
	kind      string
	n         int
	ops       uint
	run       int
	series    bool
	mem       bool
	latency   bool
	minOps    uint64
	latMinOps uint64
	windows   int
}

func (c *config) reps(min uint64) int {
	n := uint64(c.n)
	r := (min + n - 1) / n
	if r == 0 {
		r = 1
	}
	return int(r)
}

func (c *config) has(op int) bool { return c.ops&(1<<uint(op)) != 0 }

type latency struct {
	samples                   uint64
	p50, p99, p999, max, mean float64
	preempted                 int64 // involuntary context switches while timing
	tries                     int   // passes run (a preempted pass is run again)
}

// latTries: latency passes at most, while the OS preempts us (as in C).
const latTries = 3

// preemptions counts this thread's involuntary context switches (main locks
// its goroutine to one OS thread); -1 when unknown.
func preemptions() int64 {
	var ru syscall.Rusage
	const rusageThread = 1 // RUSAGE_THREAD
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return -1
	}
	return int64(ru.Nivcsw)
}

type result struct {
	have                                 [opCount]bool
	ns                                   [opCount]float64
	ops                                  [opCount]uint64
	check                                [opCount]uint64
	lat, floor                           latency
	liveRSS, peakRSS, liveAcct, peakAcct int64
	series, seriesMean                   []float64
	window                               int
}

func (r *result) set(op int, ns int64, ops uint64, check uint64) {
	r.have[op] = true
	if ops == 0 {
		ops = 1
	}
	r.ns[op] = float64(ns) / float64(ops)
	r.ops[op] = ops
	r.check[op] = check
}

// ---- keys -------------------------------------------------------------------

type keySet struct {
	n, steps, total int
	u64             []uint64
	str             []string
	probe           []string
	perm            []uint32
	pick            []uint32
}

func makeKeys(c *config, steps int) *keySet {
	n := c.n
	k := &keySet{n: n, steps: steps, total: 2*n + steps}
	k.u64 = make([]uint64, k.total)
	for i := range k.u64 {
		k.u64[i] = stream(seedKeys, uint64(i))
	}
	if c.kind == "str" {
		k.str = make([]string, k.total)
		for i, x := range k.u64 {
			k.str[i] = fmt.Sprintf("%016x", x)
		}
		// Lookups use separate copies of the bytes, as in the C harness.
		k.probe = make([]string, n)
		for i := 0; i < n; i++ {
			k.probe[i] = string([]byte(k.str[i]))
		}
	}
	k.perm = make([]uint32, n)
	for i := range k.perm {
		k.perm[i] = uint32(i)
	}
	var ctr uint64
	for i := n - 1; i > 0; i-- {
		j := int(stream(seedPerm, ctr) % uint64(i+1))
		ctr++
		k.perm[i], k.perm[j] = k.perm[j], k.perm[i]
	}
	k.pick = make([]uint32, steps)
	for j := range k.pick {
		k.pick[j] = uint32(stream(seedChurn, uint64(j)) % uint64(n+1))
	}
	return k
}

// ---- clock, latency ----------------------------------------------------------

var ticksPerNs = 1.0

func clockInit() {
	if timerName != "lfence+rdtsc" {
		return
	}
	w0 := time.Now()
	t0 := tick()
	for time.Since(w0) < 20*time.Millisecond {
	}
	t1 := tick()
	el := time.Since(w0)
	ticksPerNs = float64(t1-t0) / float64(el.Nanoseconds())
	if !(ticksPerNs > 0.01) {
		ticksPerNs = 1
	}
}

func dt32(t0, t1 uint64) uint32 {
	d := t1 - t0
	if d > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(d)
}

// radix sort of uint32 (LSD, 8 bits a pass)
func sortU32(a []uint32) {
	tmp := make([]uint32, len(a))
	src, dst := a, tmp
	for shift := uint(0); shift < 32; shift += 8 {
		var cnt [257]int
		for _, x := range src {
			cnt[((x>>shift)&255)+1]++
		}
		for i := 1; i < 257; i++ {
			cnt[i] += cnt[i-1]
		}
		for _, x := range src {
			b := (x >> shift) & 255
			dst[cnt[b]] = x
			cnt[b]++
		}
		src, dst = dst, src
	}
	// four passes: the sorted data is back in a
}

func summarize(t []uint32) latency {
	var l latency
	n := len(t)
	if n == 0 {
		return l
	}
	sum := 0.0
	for _, x := range t {
		sum += float64(x)
	}
	sortU32(t)
	pct := func(p float64) float64 {
		i := int(p*float64(n-1) + 0.5)
		if i >= n {
			i = n - 1
		}
		return float64(t[i]) / ticksPerNs
	}
	l.samples = uint64(n)
	l.p50 = pct(0.50)
	l.p99 = pct(0.99)
	l.p999 = pct(0.999)
	l.max = float64(t[n-1]) / ticksPerNs
	l.mean = sum / float64(n) / ticksPerNs
	return l
}

// floorPass times an empty operation the way the inserts were timed, for
// at least len(ticks) samples and at least span ticks (the time the timed
// inserts took): the worst an empty operation meets grows with the time
// watched (a timer interrupt, the hypervisor taking the CPU).  ticks keeps
// the last len(ticks) samples for the percentiles; the worst is of all.  A
// pass that was preempted is run again, up to latTries passes.
func floorPass(ticks []uint32, span uint64, mk func(int) uint64) latency {
	var s uint64
	var pre int64
	var worst uint32
	tries := 0
	total := len(ticks)
again:
	worst = 0
	p0 := preemptions()
	start := tick()
	now := start
	for i := 0; i < total || now-start < span; i++ {
		v := mk(i)
		t0 := tick()
		t1 := tick()
		d := dt32(t0, t1)
		ticks[i%total] = d
		if d > worst {
			worst = d
		}
		s += uint64(d) + v
		now = t1
	}
	sink += s
	pre = preemptions() - p0
	if tries++; tries < latTries && pre > 0 {
		goto again
	}
	l := summarize(ticks)
	l.max = float64(worst) / ticksPerNs
	l.preempted, l.tries = pre, tries
	return l
}

func makeSeries(r *result, t []uint32, windows int) {
	count := len(t)
	if count == 0 || windows == 0 {
		return
	}
	if windows > count {
		windows = count
	}
	win := (count + windows - 1) / windows
	for lo := 0; lo < count; lo += win {
		hi := lo + win
		if hi > count {
			hi = count
		}
		var mx uint32
		sum := 0.0
		for _, x := range t[lo:hi] {
			if x > mx {
				mx = x
			}
			sum += float64(x)
		}
		r.series = append(r.series, float64(mx)/ticksPerNs)
		r.seriesMean = append(r.seriesMean, sum/float64(hi-lo)/ticksPerNs)
	}
	r.window = win
}

// ---- memory -------------------------------------------------------------------

func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return -1
	}
	v, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return -1
	}
	return v * int64(os.Getpagesize())
}

func hwmBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line[6:])
			if len(f) > 0 {
				v, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return v * 1024
				}
			}
		}
	}
	return -1
}

func hwmReset() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

func heapAlloc() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

var sink uint64

// ---- the driver for values of one word (u64 and str keys) ------------------------

func runWord[K comparable](c *config, ks *keySet, keys, probes []K, r *result) {
	n := c.n
	val := func(i int) uint64 { return uint64(i) + 1 }
	fill := func(m map[K]uint64) {
		for i := 0; i < n; i++ {
			m[keys[i]] = uint64(i) + 1
		}
	}
	reps := c.reps(c.minOps)

	if c.mem {
		hwmOK := hwmReset()
		h0 := heapAlloc()
		rss0 := rssBytes()
		m := map[K]uint64{}
		fill(m)
		rss1, hwm := rssBytes(), hwmBytes()
		r.liveRSS = rss1 - rss0
		if hwmOK && hwm >= 0 {
			r.peakRSS = hwm - rss0
		}
		r.liveAcct = heapAlloc() - h0
		runtime.KeepAlive(m)
	}
	if c.latency {
		lreps := c.reps(c.latMinOps)
		ticks := make([]uint32, lreps*n)
		var pre int64
		var span uint64
		tries := 0
	again:
		pre, span = 0, 0
		for rep := 0; rep < lreps; rep++ {
			p0 := preemptions()
			m := map[K]uint64{}
			out := ticks[rep*n : (rep+1)*n]
			start := tick()
			for i := 0; i < n; i++ {
				v := val(i)
				t0 := tick()
				m[keys[i]] = v
				t1 := tick()
				out[i] = dt32(t0, t1)
			}
			span += tick() - start
			pre += preemptions() - p0
			if rep == 0 && c.series {
				r.series, r.seriesMean = nil, nil
				makeSeries(r, out, c.windows)
			}
			sink += uint64(len(m))
		}
		if tries++; tries < latTries && pre > 0 {
			goto again
		}
		r.lat = summarize(ticks)
		r.lat.preempted, r.lat.tries = pre, tries
		r.floor = floorPass(ticks, span, func(i int) uint64 { return val(i % n) })
	}
	for _, op := range []int{opInsert, opInsertReserved} {
		if !c.has(op) {
			continue
		}
		var ns int64
		var check uint64
		for rep := 0; rep < reps; rep++ {
			var m map[K]uint64
			if op == opInsertReserved {
				m = make(map[K]uint64, n)
			} else {
				m = map[K]uint64{}
			}
			runtime.GC() // no garbage of earlier passes marked or swept in the timing
			t0 := time.Now()
			fill(m)
			ns += time.Since(t0).Nanoseconds()
			if rep == 0 {
				check = m[probes[n-1]]
			}
		}
		r.set(op, ns, uint64(reps*n), check)
	}

	m := map[K]uint64{}
	fill(m)
	if c.has(opLookupHit) {
		var sum, first uint64
		t0 := time.Now()
		for rep := 0; rep < reps; rep++ {
			for _, p := range ks.perm {
				sum += m[probes[p]]
			}
			if rep == 0 {
				first = sum
			}
		}
		ns := time.Since(t0).Nanoseconds()
		sink += sum
		r.set(opLookupHit, ns, uint64(reps*n), first)
	}
	if c.has(opLookupMiss) {
		var found uint64
		miss := keys[n : 2*n]
		t0 := time.Now()
		for rep := 0; rep < reps; rep++ {
			for _, k := range miss {
				if m[k] != 0 {
					found++
				}
			}
		}
		ns := time.Since(t0).Nanoseconds()
		sink += found
		r.set(opLookupMiss, ns, uint64(reps*n), found)
	}
	if c.has(opIterate) {
		var sum, first uint64
		t0 := time.Now()
		for rep := 0; rep < reps; rep++ {
			for _, v := range m {
				sum += v
			}
			if rep == 0 {
				first = sum
			}
		}
		ns := time.Since(t0).Nanoseconds()
		sink += sum
		r.set(opIterate, ns, uint64(reps*n), first)
	}
	if c.has(opChurn) {
		var sum uint64
		t0 := time.Now()
		for j := 0; j < ks.steps; j++ {
			in := churnIndex(n, n+j)
			m[keys[in]] = val(in)
			sum += m[keys[churnIndex(n, j+int(ks.pick[j]))]]
			delete(m, keys[churnIndex(n, j)])
		}
		ns := time.Since(t0).Nanoseconds()
		sink += sum
		r.set(opChurn, ns, 3*uint64(ks.steps), sum)
	}
	m = nil
	if c.has(opErase) {
		var ns int64
		var check uint64
		for rep := 0; rep < reps; rep++ {
			e := map[K]uint64{}
			fill(e)
			before := len(e)
			t0 := time.Now()
			for _, p := range ks.perm {
				delete(e, probes[p])
			}
			ns += time.Since(t0).Nanoseconds()
			if rep == 0 {
				check = uint64(before - len(e))
			}
		}
		r.set(opErase, ns, uint64(reps*n), check)
	}
}

// ---- the driver for 56-byte values (a copy of runWord with V = [7]uint64) ----------

type val56 = [7]uint64

func mkval(i int) (v val56) {
	for j := range v {
		v[j] = uint64(i) + 1 + uint64(j)
	}
	return
}

func runBig(c *config, ks *keySet, r *result) {
	n := c.n
	keys := ks.u64
	fill := func(m map[uint64]val56) {
		for i := 0; i < n; i++ {
			m[keys[i]] = mkval(i)
		}
	}
	reps := c.reps(c.minOps)

	if c.mem {
		hwmOK := hwmReset()
		h0 := heapAlloc()
		rss0 := rssBytes()
		m := map[uint64]val56{}
		fill(m)
		rss1, hwm := rssBytes(), hwmBytes()
		r.liveRSS = rss1 - rss0
		if hwmOK && hwm >= 0 {
			r.peakRSS = hwm - rss0
		}
		r.liveAcct = heapAlloc() - h0
		runtime.KeepAlive(m)
	}
	if c.latency {
		lreps := c.reps(c.latMinOps)
		ticks := make([]uint32, lreps*n)
		var pre int64
		var span uint64
		tries := 0
	again:
		pre, span = 0, 0
		for rep := 0; rep < lreps; rep++ {
			p0 := preemptions()
			m := map[uint64]val56{}
			out := ticks[rep*n : (rep+1)*n]
			start := tick()
			for i := 0; i < n; i++ {
				v := mkval(i)
				t0 := tick()
				m[keys[i]] = v
				t1 := tick()
				out[i] = dt32(t0, t1)
			}
			span += tick() - start
			pre += preemptions() - p0
			if rep == 0 && c.series {
				r.series, r.seriesMean = nil, nil
				makeSeries(r, out, c.windows)
			}
			sink += uint64(len(m))
		}
		if tries++; tries < latTries && pre > 0 {
			goto again
		}
		r.lat = summarize(ticks)
		r.lat.preempted, r.lat.tries = pre, tries
		r.floor = floorPass(ticks, span, func(i int) uint64 { return mkval(i % n)[0] })
	}
	for _, op := range []int{opInsert, opInsertReserved} {
		if !c.has(op) {
			continue
		}
		var ns int64
		var check uint64
		for rep := 0; rep < reps; rep++ {
			var m map[uint64]val56
			if op == opInsertReserved {
				m = make(map[uint64]val56, n)
			} else {
				m = map[uint64]val56{}
			}
			runtime.GC() // no garbage of earlier passes marked or swept in the timing
			t0 := time.Now()
			fill(m)
			ns += time.Since(t0).Nanoseconds()
			if rep == 0 {
				check = m[keys[n-1]][0]
			}
		}
		r.set(op, ns, uint64(reps*n), check)
	}

	m := map[uint64]val56{}
	fill(m)
	if c.has(opLookupHit) {
		var sum, first uint64
		t0 := time.Now()
		for rep := 0; rep < reps; rep++ {
			for _, p := range ks.perm {
				sum += m[keys[p]][0]
			}
			if rep == 0 {
				first = sum
			}
		}
		ns := time.Since(t0).Nanoseconds()
		sink += sum
		r.set(opLookupHit, ns, uint64(reps*n), first)
	}
	if c.has(opLookupMiss) {
		var found uint64
		miss := keys[n : 2*n]
		t0 := time.Now()
		for rep := 0; rep < reps; rep++ {
			for _, k := range miss {
				if m[k][0] != 0 {
					found++
				}
			}
		}
		ns := time.Since(t0).Nanoseconds()
		sink += found
		r.set(opLookupMiss, ns, uint64(reps*n), found)
	}
	if c.has(opIterate) {
		var sum, first uint64
		t0 := time.Now()
		for rep := 0; rep < reps; rep++ {
			for _, v := range m {
				sum += v[0]
			}
			if rep == 0 {
				first = sum
			}
		}
		ns := time.Since(t0).Nanoseconds()
		sink += sum
		r.set(opIterate, ns, uint64(reps*n), first)
	}
	if c.has(opChurn) {
		var sum uint64
		t0 := time.Now()
		for j := 0; j < ks.steps; j++ {
			in := churnIndex(n, n+j)
			m[keys[in]] = mkval(in)
			sum += m[keys[churnIndex(n, j+int(ks.pick[j]))]][0]
			delete(m, keys[churnIndex(n, j)])
		}
		ns := time.Since(t0).Nanoseconds()
		sink += sum
		r.set(opChurn, ns, 3*uint64(ks.steps), sum)
	}
	m = nil
	if c.has(opErase) {
		var ns int64
		var check uint64
		for rep := 0; rep < reps; rep++ {
			e := map[uint64]val56{}
			fill(e)
			before := len(e)
			t0 := time.Now()
			for _, p := range ks.perm {
				delete(e, keys[p])
			}
			ns += time.Since(t0).Nanoseconds()
			if rep == 0 {
				check = uint64(before - len(e))
			}
		}
		r.set(opErase, ns, uint64(reps*n), check)
	}
}

// ---- output -----------------------------------------------------------------------

func num(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "null"
	}
	return strconv.FormatFloat(x, 'f', 3, 64)
}

func latJSON(name string, l latency) string {
	return fmt.Sprintf("\"%s\":{\"samples\":%d,\"p50\":%s,\"p99\":%s,\"p999\":%s,\"max\":%s,\"mean\":%s,\"preempted\":%d,\"tries\":%d}",
		name, l.samples, num(l.p50), num(l.p99), num(l.p999), num(l.max), num(l.mean), l.preempted, l.tries)
}

func writeJSON(w *bufio.Writer, c *config, r *result) {
	fmt.Fprintf(w, "{\"table\":\"go\",\"kind\":\"%s\",\"n\":%d,\"run\":%d,", c.kind, c.n, c.run)
	sec := func(name string, f func(op int) string) {
		fmt.Fprintf(w, "\"%s\":{", name)
		first := true
		for op := 0; op < opCount; op++ {
			if !r.have[op] {
				continue
			}
			if !first {
				w.WriteString(",")
			}
			fmt.Fprintf(w, "\"%s\":%s", opNames[op], f(op))
			first = false
		}
		w.WriteString("},")
	}
	sec("ns", func(op int) string { return num(r.ns[op]) })
	sec("ops", func(op int) string { return strconv.FormatUint(r.ops[op], 10) })
	sec("check", func(op int) string { return strconv.FormatUint(r.check[op], 10) })
	w.WriteString(latJSON("lat", r.lat) + "," + latJSON("floor", r.floor))
	fmt.Fprintf(w, ",\"mem\":{\"live_rss\":%d,\"peak_rss\":%d,\"live_acct\":%d,\"peak_acct\":%d}",
		r.liveRSS, r.peakRSS, r.liveAcct, r.peakAcct)
	fmt.Fprintf(w, ",\"extra\":{},\"timer\":\"%s\",\"ticks_per_ns\":%.4f,\"note\":\"%s\"",
		timerName, ticksPerNs, runtime.Version()+" built-in map; live_acct = heap bytes after GC")
	if len(r.series) > 0 {
		fmt.Fprintf(w, ",\"window\":%d", r.window)
		for _, s := range []struct {
			name string
			v    []float64
		}{{"series_max", r.series}, {"series_mean", r.seriesMean}} {
			fmt.Fprintf(w, ",\"%s\":[", s.name)
			for i, x := range s.v {
				if i > 0 {
					w.WriteString(",")
				}
				w.WriteString(strconv.FormatFloat(x, 'f', 0, 64))
			}
			w.WriteString("]")
		}
	}
	w.WriteString("}\n")
}

func parseOps(s string) (uint, error) {
	if s == "all" {
		return (1 << opCount) - 1, nil
	}
	var mask uint
	for _, name := range strings.Split(s, ",") {
		found := false
		for op, o := range opNames {
			if o == name {
				mask |= 1 << uint(op)
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("unknown op %q", name)
		}
	}
	return mask, nil
}

func main() {
	c := &config{}
	var size, minOps, latMinOps float64
	var ops string
	var noMem, noLat bool
	flag.StringVar(&c.kind, "kind", "u64", "u64, str or big")
	flag.Float64Var(&size, "size", 100000, "entries")
	flag.StringVar(&ops, "ops", "all", "operations, comma-separated")
	flag.IntVar(&c.run, "run", 1, "run number (a label)")
	flag.BoolVar(&c.series, "series", false, "record insert latency over time")
	flag.BoolVar(&noMem, "no-mem", false, "skip the memory pass")
	flag.BoolVar(&noLat, "no-latency", false, "skip the per-insert latency pass")
	flag.Float64Var(&minOps, "min-ops", 1e6, "operations per timed op, at least")
	flag.Float64Var(&latMinOps, "lat-min-ops", 2e5, "latency samples, at least")
	flag.IntVar(&c.windows, "windows", 1000, "points in the latency series")
	flag.Parse()
	c.n = int(size)
	c.minOps = uint64(minOps)
	c.latMinOps = uint64(latMinOps)
	c.mem, c.latency = !noMem, !noLat
	var err error
	if c.ops, err = parseOps(ops); err != nil || c.n < 1 ||
		(c.kind != "u64" && c.kind != "str" && c.kind != "big") {
		fmt.Fprintln(os.Stderr, "bench_go: bad arguments")
		os.Exit(2)
	}
	runtime.LockOSThread() // one thread: the per-thread preemption count is ours
	clockInit()
	steps := 0
	if c.has(opChurn) {
		steps = c.reps(c.minOps) * c.n
	}
	ks := makeKeys(c, steps)
	r := &result{liveRSS: -1, peakRSS: -1, liveAcct: -1, peakAcct: -1,
		lat: latency{preempted: -1}, floor: latency{preempted: -1}}
	switch c.kind {
	case "u64":
		runWord(c, ks, ks.u64, ks.u64, r)
	case "str":
		runWord(c, ks, ks.str, ks.probe, r)
	case "big":
		runBig(c, ks, r)
	}
	w := bufio.NewWriter(os.Stdout)
	writeJSON(w, c, r)
	w.Flush()
	if sink == 42 {
		fmt.Fprintln(os.Stderr, "")
	}
}
