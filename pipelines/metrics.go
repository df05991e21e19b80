package pipelines

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tusk-data/tusk/meta/kv"
)

// Metrics of the pipelines, on the gateway's /metrics (the gateway
// registers Service.Collector in its registry):
//
//	tusk_pipeline_jobs{pipeline,state}                 gauge: jobs not ended (pending, running, finishing)
//	tusk_pipeline_jobs_ended_total{pipeline,state}     counter: jobs that ended (success, failure, killed)
//	tusk_pipeline_datums_total{pipeline,result}        counter: datums processed, skipped (unchanged, carried
//	                                                   over or removed without running) and failed (all tries)
//	tusk_pipeline_datums_waiting{pipeline}             gauge: datums of unended jobs not yet processed (queue depth)
//	tusk_pipeline_datum_duration_seconds{pipeline,result}  histogram: each try of a datum, success or failure
//	tusk_pipeline_stopped{pipeline}                    gauge: 1 while the pipeline is stopped
//
// Counters count from when the Collector was made (the gateway's start):
// a job that ended before is not counted; the datums of a job that was
// running at the start count whole. Job and datum counts are read from the
// job records at each scrape (the jobs above a per-pipeline watermark:
// O(pipelines + unended jobs) per scrape, a job's stats read once more when
// it ends), so every code path that changes a job is counted without
// telling the metrics; only the duration histogram is fed as tries end
// (Service.observeTry). A deleted pipeline's series go with it.
type pipeMetrics struct {
	once sync.Once
	dur  *prometheus.HistogramVec

	mu    sync.Mutex
	start time.Time
	pipes map[string]*pipeCounts
}

// pipeCounts is what a pipeline's scrapes have counted.
type pipeCounts struct {
	// watermark: every job with Seq <= it ended and is counted.
	watermark int64
	init      bool
	// seen holds the stats already counted of jobs above the watermark.
	seen   map[string]JobStats
	ended  map[string]float64 // by job state
	datums map[string]float64 // by result
}

var (
	descJobs    = prometheus.NewDesc("tusk_pipeline_jobs", "Jobs not ended, by pipeline and state (pending, running, finishing).", []string{"pipeline", "state"}, nil)
	descEnded   = prometheus.NewDesc("tusk_pipeline_jobs_ended_total", "Jobs that ended, by pipeline and state (success, failure, killed).", []string{"pipeline", "state"}, nil)
	descDatums  = prometheus.NewDesc("tusk_pipeline_datums_total", "Datums by pipeline and result: processed (ran and succeeded), skipped (unchanged: carried over or removed without running), failed (all tries).", []string{"pipeline", "result"}, nil)
	descWaiting = prometheus.NewDesc("tusk_pipeline_datums_waiting", "Datums of the pipeline's unended jobs not yet processed.", []string{"pipeline"}, nil)
	descStopped = prometheus.NewDesc("tusk_pipeline_stopped", "1 while the pipeline is stopped (its input repo was deleted).", []string{"pipeline"}, nil)
)

func (m *pipeMetrics) hist() *prometheus.HistogramVec {
	m.once.Do(func() {
		m.dur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tusk_pipeline_datum_duration_seconds",
			Help:    "Duration of each try of a datum (staging, command, upload), by pipeline and result (success, failure).",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 20)}, []string{"pipeline", "result"})
	})
	return m.dur
}

// observeTry records the duration of one try of a datum (a Result from a
// runner). Tries without both times are not observed.
func (s *Service) observeTry(pipeline string, r Result) {
	if r.Started.IsZero() || r.Ended.IsZero() {
		return
	}
	res := "success"
	if !r.OK() {
		res = "failure"
	}
	s.metrics.hist().WithLabelValues(pipeline, res).Observe(r.Ended.Sub(r.Started).Seconds())
}

// Collector returns the pipelines' metrics for a prometheus registry (one
// per service: register it once). Counting starts now.
func (s *Service) Collector() prometheus.Collector {
	s.metrics.mu.Lock()
	if s.metrics.start.IsZero() {
		s.metrics.start = s.cfg.Now()
	}
	s.metrics.mu.Unlock()
	return &collector{s: s}
}

type collector struct{ s *Service }

var _ prometheus.Collector = (*collector)(nil)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descJobs, descEnded, descDatums, descWaiting, descStopped} {
		ch <- d
	}
	c.s.metrics.hist().Describe(ch)
}

// Collect reads the job records (see pipeMetrics). A store error leaves
// the counts where they were and is reported as an invalid metric.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s, m := c.s, &c.s.metrics
	hist := m.hist()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pipes == nil {
		m.pipes = map[string]*pipeCounts{}
	}
	list, err := s.List(context.Background())
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descJobs, err)
		return
	}
	live := map[string]bool{}
	for _, p := range list {
		name := p.Name()
		live[name] = true
		pc := m.pipes[name]
		if pc == nil {
			pc = &pipeCounts{seen: map[string]JobStats{}, ended: map[string]float64{}, datums: map[string]float64{}}
			m.pipes[name] = pc
		}
		states, waiting, err := m.scan(s, name, pc)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(descJobs, err)
			return
		}
		for _, st := range []string{JobPending, JobRunning, JobFinishing} {
			ch <- prometheus.MustNewConstMetric(descJobs, prometheus.GaugeValue, states[st], name, st)
		}
		for _, st := range []string{JobSuccess, JobFailure, JobKilled} {
			ch <- prometheus.MustNewConstMetric(descEnded, prometheus.CounterValue, pc.ended[st], name, st)
		}
		for _, r := range []string{"processed", "skipped", "failed"} {
			ch <- prometheus.MustNewConstMetric(descDatums, prometheus.CounterValue, pc.datums[r], name, r)
		}
		ch <- prometheus.MustNewConstMetric(descWaiting, prometheus.GaugeValue, waiting, name)
		stopped := 0.0
		if p.Stopped != "" {
			stopped = 1
		}
		ch <- prometheus.MustNewConstMetric(descStopped, prometheus.GaugeValue, stopped, name)
	}
	for name := range m.pipes {
		if !live[name] {
			delete(m.pipes, name)
			hist.DeletePartialMatch(prometheus.Labels{"pipeline": name})
		}
	}
	hist.Collect(ch)
}

// scan reads the pipeline's jobs above its watermark, newest first: it
// counts the stats they gained since the last scrape and the jobs that
// ended, moves the watermark up, and returns the unended jobs by state and
// their waiting datums.
func (m *pipeMetrics) scan(s *Service, name string, pc *pipeCounts) (map[string]float64, float64, error) {
	states := map[string]float64{}
	var waiting float64
	var jobs []*Job
	err := s.rec.View(context.Background(), func(txn kv.Reader) error {
		return queuedJobs(txn, pJobQueue+name+"/", func(j *Job) bool {
			if j.Seq <= pc.watermark && pc.init {
				return false
			}
			// The first scan of a pipeline stops at a job that ended
			// before counting started.
			if !pc.init && j.Done() && j.Finished.Before(m.start) {
				return false
			}
			jobs = append(jobs, j)
			return true
		})
	})
	if err != nil {
		return nil, 0, err
	}
	if !pc.init {
		pc.init = true
		if len(jobs) > 0 {
			pc.watermark = jobs[len(jobs)-1].Seq - 1
		} else if err := s.rec.View(context.Background(), func(txn kv.Reader) error {
			last, err := lastJobTx(txn, name)
			if last != nil {
				pc.watermark = last.Seq
			}
			return err
		}); err != nil {
			return nil, 0, err
		}
	}
	// Oldest first, so the watermark moves over a run of ended jobs.
	mark, blocked := pc.watermark, false
	for i := len(jobs) - 1; i >= 0; i-- {
		j := jobs[i]
		prev, counted := pc.seen[j.ID]
		if !counted || prev != j.Stats {
			pc.datums["processed"] += float64(j.Stats.Processed - prev.Processed)
			pc.datums["skipped"] += float64(j.Stats.Skipped - prev.Skipped)
			pc.datums["failed"] += float64(j.Stats.Failed - prev.Failed)
		}
		if j.Done() {
			if _, ended := pc.seen[j.ID+"\x00ended"]; !ended {
				pc.ended[j.State]++
			}
		} else {
			states[j.State]++
			waiting += float64(j.Stats.Pending)
		}
		if j.Done() && !blocked {
			mark = j.Seq
			delete(pc.seen, j.ID)
			delete(pc.seen, j.ID+"\x00ended")
			continue
		}
		blocked = true
		pc.seen[j.ID] = j.Stats
		if j.Done() {
			pc.seen[j.ID+"\x00ended"] = JobStats{}
		}
	}
	pc.watermark = mark
	return states, waiting, nil
}
