// The Go row of the concurrent-map benchmark: the same benchmarks as
// bench/sync/bench_sync.c (Go's own sync/map_bench_test.go set plus the YCSB
// mixes) on the sync.Map of the Go that builds it (Go 1.19: the read-only +
// dirty map design of sync/map.go), printing the same lines:
//
//	bench=<name> map=go_sync_map threads=<T> ns_op=<x> n=<N>
//
// Keys and values are ints passed as `any`, as in Go's benchmarks.  Go 1.19's
// sync.Map has no Swap, CompareAndSwap or CompareAndDelete (added in 1.20):
// those rows print ns_op=nan.
package main

import (
	"flag"
	"fmt"
	"math"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	yKeys   = 1000000
	yStream = 1 << 20
)

const (
	yRead = iota
	yUpdate
	yInsert
	yDelete
)

type yOp struct {
	key  int
	kind int
}

var streams [3][]([]yOp)

type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9E3779B97F4A7C15
	z := r.s
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}
func (r *rng) unit() float64 { return float64(r.next()>>11) * (1.0 / 9007199254740992.0) }

func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

type zipf struct {
	n                                 uint64
	theta, zetan, alpha, eta, halfPow float64
}

func newZipf(n uint64, theta float64) *zipf {
	z := &zipf{n: n, theta: theta}
	zeta2 := 1.0 + math.Pow(0.5, theta)
	for i := uint64(1); i <= n; i++ {
		z.zetan += 1.0 / math.Pow(float64(i), theta)
	}
	z.alpha = 1.0 / (1.0 - theta)
	z.eta = (1.0 - math.Pow(2.0/float64(n), 1.0-theta)) / (1.0 - zeta2/z.zetan)
	z.halfPow = math.Pow(0.5, theta)
	return z
}

func (z *zipf) next(r *rng) int {
	u := r.unit()
	uz := u * z.zetan
	var rank uint64
	switch {
	case uz < 1.0:
		rank = 0
	case uz < 1.0+z.halfPow:
		rank = 1
	default:
		rank = uint64(math.Floor(float64(z.n) * math.Pow(z.eta*u-z.eta+1.0, z.alpha)))
	}
	if rank >= z.n {
		rank = z.n - 1
	}
	return int(mix64(rank) % z.n)
}

func initStreams(nthreads int) {
	z := newZipf(yKeys, 0.99)
	for mix := 0; mix < 3; mix++ {
		streams[mix] = make([][]yOp, nthreads)
	}
	for t := 0; t < nthreads; t++ {
		r := &rng{s: 0x1234567 * uint64(t+1)}
		for mix := 0; mix < 3; mix++ {
			ops := make([]yOp, yStream)
			for i := range ops {
				p := r.next() % 100
				switch mix {
				case 0:
					ops[i].key = z.next(r)
					ops[i].kind = map[bool]int{true: yRead, false: yUpdate}[p < 95]
				case 1:
					ops[i].key = z.next(r)
					ops[i].kind = map[bool]int{true: yRead, false: yUpdate}[p < 50]
				default:
					ops[i].key = int(r.next() % (2 * yKeys))
					switch {
					case p < 50:
						ops[i].kind = yRead
					case p < 75:
						ops[i].kind = yInsert
					default:
						ops[i].kind = yDelete
					}
				}
			}
			streams[mix][t] = ops
		}
	}
}

type bench struct {
	name  string
	setup func(m *sync.Map)
	perG  func(m *sync.Map, tid, i, n int) int
	keep  bool
	na    string
}

func setupHits(hits int) func(m *sync.Map) {
	return func(m *sync.Map) {
		for i := 0; i < hits; i++ {
			m.LoadOrStore(i, i)
		}
		for i := 0; i < hits*2; i++ {
			m.Load(i % hits)
		}
	}
}

func ycsb(mix int) func(m *sync.Map, tid, i, n int) int {
	return func(m *sync.Map, tid, i, n int) int {
		ops := streams[mix][tid]
		s := 0
		for e := i + n; i < e; i++ {
			op := &ops[i&(yStream-1)]
			switch op.kind {
			case yRead:
				if v, ok := m.Load(op.key); ok {
					s += v.(int)
				}
			case yUpdate:
				m.Store(op.key, i)
			case yInsert:
				m.LoadOrStore(op.key, i)
			default:
				m.Delete(op.key)
			}
		}
		return s
	}
}

var benches = []bench{
	{name: "LoadMostlyHits", setup: setupHits(1023), perG: func(m *sync.Map, _, i, n int) int {
		s := 0
		for e := i + n; i < e; i++ {
			if v, ok := m.Load(i % 1024); ok {
				s += v.(int)
			}
		}
		return s
	}},
	{name: "LoadMostlyMisses", setup: setupHits(1), perG: func(m *sync.Map, _, i, n int) int {
		s := 0
		for e := i + n; i < e; i++ {
			if v, ok := m.Load(i % 1024); ok {
				s += v.(int)
			}
		}
		return s
	}},
	{name: "LoadOrStoreBalanced", setup: setupHits(128), perG: func(m *sync.Map, _, i, n int) int {
		for e := i + n; i < e; i++ {
			j := i % 256
			if j < 128 {
				if _, ok := m.LoadOrStore(j, i); !ok {
					panic("unexpected miss")
				}
			} else if _, loaded := m.LoadOrStore(i, i); loaded {
				panic("failed to store")
			}
		}
		return 0
	}},
	{name: "LoadOrStoreUnique", perG: func(m *sync.Map, _, i, n int) int {
		for e := i + n; i < e; i++ {
			m.LoadOrStore(i, i)
		}
		return 0
	}},
	{name: "LoadOrStoreCollision", setup: func(m *sync.Map) { m.LoadOrStore(0, 0) }, perG: func(m *sync.Map, _, i, n int) int {
		for e := i + n; i < e; i++ {
			m.LoadOrStore(0, 0)
		}
		return 0
	}},
	{name: "LoadAndDeleteBalanced", setup: setupHits(128), perG: func(m *sync.Map, _, i, n int) int {
		for e := i + n; i < e; i++ {
			if j := i % 256; j < 128 {
				m.LoadAndDelete(j)
			} else {
				m.LoadAndDelete(i)
			}
		}
		return 0
	}},
	{name: "DeleteCollision", setup: func(m *sync.Map) { m.LoadOrStore(0, 0) }, perG: func(m *sync.Map, _, i, n int) int {
		for e := i + n; i < e; i++ {
			m.Delete(0)
		}
		return 0
	}},
	{name: "SwapCollision", na: "no-Swap-in-go1.19"},
	{name: "CompareAndSwapCollision", na: "no-CompareAndSwap-in-go1.19"},
	{name: "Range", setup: func(m *sync.Map) {
		for i := 0; i < 1024; i++ {
			m.Store(i, i)
		}
	}, perG: func(m *sync.Map, _, i, n int) int {
		s := 0
		for e := i + n; i < e; i++ {
			m.Range(func(k, v any) bool { s += k.(int) ^ v.(int); return true })
		}
		return s
	}},
	{name: "AdversarialAlloc", perG: func(m *sync.Map, _, i, n int) int {
		var stores, since int
		for e := i + n; i < e; i++ {
			m.Load(i)
			if since++; since > stores {
				m.LoadOrStore(i, stores)
				since = 0
				stores++
			}
		}
		return 0
	}},
	{name: "AdversarialDelete", setup: func(m *sync.Map) {
		for i := 0; i < 1024; i++ {
			m.Store(i, i)
		}
	}, perG: func(m *sync.Map, _, i, n int) int {
		for e := i + n; i < e; i++ {
			m.Load(i)
			if i%1024 == 0 {
				m.Range(func(k, _ any) bool { m.Delete(k); return false })
				m.Store(i, i)
			}
		}
		return 0
	}},
	{name: "YCSB-B-95/5-zipf", setup: func(m *sync.Map) {
		for k := 0; k < yKeys; k++ {
			m.Store(k, k)
		}
	}, perG: ycsb(0), keep: true},
	{name: "YCSB-A-50/50-zipf", setup: func(m *sync.Map) {
		for k := 0; k < yKeys; k++ {
			m.Store(k, k)
		}
	}, perG: ycsb(1), keep: true},
	{name: "Churn-50/25/25-uniform", setup: func(m *sync.Map) {
		for k := 0; k < yKeys; k++ {
			m.Store(2*k, k)
		}
	}, perG: ycsb(2), keep: true},
}

var sink int64

func runOnce(b *bench, m *sync.Map, nthreads, n int) time.Duration {
	var wg, ready sync.WaitGroup
	start := make(chan struct{})
	ends := make([]time.Time, nthreads)
	per := n / nthreads
	for t := 0; t < nthreads; t++ {
		wg.Add(1)
		ready.Add(1)
		go func(t int) {
			defer wg.Done()
			ready.Done()
			<-start
			s := b.perG(m, t, t*n, per)
			ends[t] = time.Now()
			atomic.AddInt64(&sink, int64(s))
		}(t)
	}
	ready.Wait()
	t0 := time.Now()
	close(start)
	wg.Wait()
	end := t0
	for _, e := range ends {
		if e.After(end) {
			end = e
		}
	}
	return end.Sub(t0)
}

func fresh(b *bench) *sync.Map {
	m := &sync.Map{}
	if b.setup != nil {
		b.setup(m)
	}
	return m
}

func timed(b *bench, keep **sync.Map, nthreads, n int) time.Duration {
	if b.keep {
		if *keep == nil {
			*keep = fresh(b)
		}
		return runOnce(b, *keep, nthreads, n)
	}
	return runOnce(b, fresh(b), nthreads, n)
}

func benchOne(b *bench, nthreads, runs int, target float64) {
	if b.na != "" {
		fmt.Printf("bench=%s map=go_sync_map threads=%d ns_op=nan n=0 note=%s\n", b.name, nthreads, b.na)
		return
	}
	var keep *sync.Map
	n := 1000
	for {
		t := timed(b, &keep, nthreads, n).Seconds()
		if t >= target/4 || n >= 1<<34 {
			n = int(float64(n) * target / math.Max(t, 1e-6))
			break
		}
		if t > 0 {
			n = int(float64(n)*math.Min(10, target/2/t)) + 1
		} else {
			n *= 10
		}
	}
	n = (n/nthreads + 1) * nthreads
	ns := make([]float64, runs)
	for r := range ns {
		runtime.GC()
		ns[r] = float64(timed(b, &keep, nthreads, n).Nanoseconds()) / float64(n)
	}
	sort.Float64s(ns)
	fmt.Printf("bench=%s map=go_sync_map threads=%d ns_op=%.2f n=%d\n", b.name, nthreads, ns[runs/2], n)
}

func listed(list, name string) bool {
	if list == "" {
		return true
	}
	for _, x := range strings.Split(list, ",") {
		if x == name {
			return true
		}
	}
	return false
}

func main() {
	threads := flag.String("t", "1,2", "thread counts")
	only := flag.String("b", "", "benchmarks (comma-separated)")
	runs := flag.Int("r", 5, "runs (median)")
	target := flag.Float64("s", 0.15, "seconds per run")
	flag.String("m", "", "ignored (the C harness's map filter)")
	flag.Parse()
	var tl []int
	maxT := 1
	for _, s := range strings.Split(*threads, ",") {
		if t, err := strconv.Atoi(s); err == nil && t >= 1 {
			tl = append(tl, t)
			if t > maxT {
				maxT = t
			}
		}
	}
	initStreams(maxT)
	for i := range benches {
		if !listed(*only, benches[i].name) {
			continue
		}
		for _, t := range tl {
			runtime.GOMAXPROCS(t)
			benchOne(&benches[i], t, *runs, *target)
		}
	}
}
