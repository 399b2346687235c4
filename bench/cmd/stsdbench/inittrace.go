//go:build linux

package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"os/exec"
	"slices"
	"strconv"
	"strings"
)

// initCost is what the Go runtime reports for one program's package
// initialization (GODEBUG=inittrace=1): per package, the median over runs.
type initCost struct {
	Program  string
	Runs     int
	TotalUS  float64 // the sum of every package's median clock time, µs
	Bytes    int64   // heap allocated by init functions (the same every run)
	Allocs   int64
	Packages []pkgInit // by clock time, largest first
}

type pkgInit struct {
	Name    string
	ClockUS float64
	Bytes   int64
}

// measureInit runs argv runs times with GODEBUG=inittrace=1 (its exit
// status does not matter: the trace is written before main runs) and
// gathers the per-package medians.
func measureInit(ctx context.Context, program string, argv, env []string, runs int) (initCost, error) {
	clocks := map[string][]float64{}
	bytesOf := map[string]int64{}
	allocsOf := map[string]int64{}
	for range runs {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Env = append(slices.Clone(env), "GODEBUG=inittrace=1")
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = nil, &stderr
		if err := cmd.Run(); err != nil && ctx.Err() != nil {
			return initCost{}, ctx.Err()
		}
		for name, l := range parseInitTrace(stderr.Bytes()) {
			clocks[name] = append(clocks[name], l.ClockUS)
			bytesOf[name], allocsOf[name] = l.Bytes, l.allocs
		}
	}
	c := initCost{Program: program, Runs: runs}
	for name, cs := range clocks {
		pi := pkgInit{Name: name, ClockUS: summarize(cs).Median, Bytes: bytesOf[name]}
		c.Packages = append(c.Packages, pi)
		c.TotalUS += pi.ClockUS
		c.Bytes += pi.Bytes
		c.Allocs += allocsOf[name]
	}
	slices.SortFunc(c.Packages, func(a, b pkgInit) int { return cmp.Compare(b.ClockUS, a.ClockUS) })
	return c, nil
}

type initLine struct {
	ClockUS float64
	Bytes   int64
	allocs  int64
}

// parseInitTrace reads inittrace lines:
//
//	init PKG @0.52 ms, 0.011 ms clock, 4096 bytes, 12 allocs
func parseInitTrace(out []byte) map[string]initLine {
	m := map[string]initLine{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 11 || f[0] != "init" || f[6] != "clock," || f[8] != "bytes," || f[10] != "allocs" {
			continue
		}
		ms, err1 := strconv.ParseFloat(f[4], 64)
		b, err2 := strconv.ParseInt(f[7], 10, 64)
		a, err3 := strconv.ParseInt(f[9], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		m[f[1]] = initLine{ClockUS: ms * 1e3, Bytes: b, allocs: a}
	}
	return m
}
