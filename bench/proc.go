package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// ErrProcFormat reports a /proc file that does not read as expected.
var ErrProcFormat = errors.New("bench: unexpected /proc format")

// Usage is a process's resident memory and CPU time at one moment.
type Usage struct {
	// PID is the process read.
	PID int `json:"pid"`
	// At is when it was read.
	At time.Time `json:"at"`
	// RSSBytes is VmRSS from /proc/<pid>/status.
	RSSBytes int64 `json:"rss_bytes"`
	// CPUSeconds is utime + stime from /proc/<pid>/stat.
	CPUSeconds float64 `json:"cpu_seconds"`
}

// ReadUsage reads a process's RSS and CPU time from /proc (Linux).
func ReadUsage(pid int) (Usage, error) {
	u := Usage{PID: pid, At: time.Now()}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, fmt.Errorf("bench: usage of %d: %w", pid, err)
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, fmt.Errorf("bench: usage of %d: %w", pid, err)
	}
	if u.RSSBytes, err = ParseVmRSS(status); err != nil {
		return u, fmt.Errorf("bench: usage of %d: %w", pid, err)
	}
	if u.CPUSeconds, err = ParseCPUSeconds(stat); err != nil {
		return u, fmt.Errorf("bench: usage of %d: %w", pid, err)
	}
	return u, nil
}

// ParseVmRSS reads the VmRSS line ("VmRSS:     1234 kB") of a
// /proc/<pid>/status file, in bytes.
func ParseVmRSS(status []byte) (int64, error) {
	for line := range bytes.SplitSeq(status, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("%w: VmRSS line %q", ErrProcFormat, line)
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil || kb < 0 {
			return 0, fmt.Errorf("%w: VmRSS line %q", ErrProcFormat, line)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("%w: no VmRSS line", ErrProcFormat)
}

// ParseCPUSeconds reads utime + stime (fields 14 and 15) of a
// /proc/<pid>/stat line, in seconds. The command name (field 2) may hold
// spaces and parentheses, so fields are counted after its last ')'.
func ParseCPUSeconds(stat []byte) (float64, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: stat has no command name", ErrProcFormat)
	}
	f := bytes.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("%w: stat has %d fields after the name", ErrProcFormat, len(f))
	}
	ut, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	st, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("%w: utime/stime: %v", ErrProcFormat, err)
	}
	return float64(ut+st) / clockTicks, nil
}

// cpuUsed is the CPU time the samples show was used: the first process's
// last reading minus its first, plus the last reading of every process
// started during the series (a restarted engine).
func cpuUsed(samples []Usage) float64 {
	var total float64
	for i := 0; i < len(samples); {
		j := i
		for j+1 < len(samples) && samples[j+1].PID == samples[i].PID {
			j++
		}
		total += samples[j].CPUSeconds
		if i == 0 {
			total -= samples[i].CPUSeconds
		}
		i = j + 1
	}
	return total
}

// maxSamples bounds a sampler's series (a day at one sample a second).
const maxSamples = 86400

// sampler reads a process's usage at a fixed interval until stopped.
type sampler struct {
	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}

	mu      sync.Mutex
	pid     int
	samples []Usage
	peak    int64
}

// startSampler samples pid() every interval; a pid of 0 (unknown) or an
// unreadable process is skipped.
func startSampler(pid int, interval time.Duration) *sampler {
	s := &sampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			s.sample()
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// setPID switches the sampled process (after a restart).
func (s *sampler) setPID(pid int) {
	s.mu.Lock()
	s.pid = pid
	s.mu.Unlock()
}

// sample takes one reading now and returns it; ok is false when none could
// be taken.
func (s *sampler) sample() (Usage, bool) {
	s.mu.Lock()
	pid := s.pid
	s.mu.Unlock()
	if pid <= 0 {
		return Usage{}, false
	}
	u, err := ReadUsage(pid)
	if err != nil {
		return Usage{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.samples) < maxSamples {
		s.samples = append(s.samples, u)
	}
	s.peak = max(s.peak, u.RSSBytes)
	return u, true
}

// close stops sampling and returns the series and the peak RSS.
func (s *sampler) close() ([]Usage, int64) {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Usage(nil), s.samples...), s.peak
}
