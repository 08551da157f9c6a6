package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"fraudwatch/detector"
	"fraudwatch/detector/rules"
	"fraudwatch/features"
	"fraudwatch/features/memrep"
	"fraudwatch/features/redisrep"
	"fraudwatch/features/textmodel"
	"fraudwatch/fixtures"
	"fraudwatch/models"
)

// settings is what every command needs to build the scoring path, however
// it was configured (run's config file, score's flags, demo's defaults).
type settings struct {
	region          string
	officialLines   []string
	officialDomains []string
	directoryName   string
	directory       []byte              // YAML; nil for none
	rulesPath       string              // "" for the built-in rules
	lexiconsPath    string              // "" for the built-in lexicons
	modelPath       string              // "" for the built-in text model
	model           *textmodel.Model    // overrides modelPath (eval --cv)
	rep             detector.Reputation // overrides the store newPipeline makes (eval --cv)
	minSeverity     models.Severity
	staleAfter      time.Duration // 0: the engine's default
	shortCall       time.Duration // 0: the engine's default
	hmacVersion     string
	hmacSecret      string
	redis           RedisConfig
	logger          *slog.Logger
	now             func() time.Time
}

// settingsFromConfig maps run's configuration onto settings.
func settingsFromConfig(cfg Config, logger *slog.Logger) (settings, error) {
	s := settings{
		region:          cfg.Detector.DefaultRegion,
		officialLines:   cfg.Detector.OfficialLines,
		officialDomains: cfg.Detector.OfficialDomains,
		rulesPath:       cfg.Detector.Rules,
		lexiconsPath:    cfg.Detector.Lexicons,
		modelPath:       cfg.Detector.Model,
		hmacVersion:     cfg.HMAC.KeyVersion,
		hmacSecret:      cfg.HMAC.Secret,
		redis:           cfg.Redis,
		logger:          logger,
		staleAfter:      cfg.Detector.StaleAfter,
		shortCall:       cfg.Detector.ShortCall,
	}
	sev, err := models.ParseSeverity(cfg.Detector.MinSeverity)
	if err == nil && sev == models.SeverityNone {
		// The engine reads none as "unset" and would silently use medium.
		err = errors.New(`severity "none" cannot be the minimum (it would flag every event): want low, medium, high or critical`)
	}
	if err != nil {
		return settings{}, fmt.Errorf("min severity: %w", err)
	}
	s.minSeverity = sev
	if p := cfg.Detector.Directory; p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			return settings{}, fmt.Errorf("detector.directory: %w", err)
		}
		s.directoryName, s.directory = p, b
	}
	return s, nil
}

// pipelineFlags are the scoring flags shared by offline commands.
type pipelineFlags struct {
	config      string
	directory   string
	rules       string
	lexicons    string
	model       string
	minSeverity string
	region      string
}

func (f *pipelineFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "take detector, HMAC and Redis settings from run's config `FILE` (env overrides apply)")
	fs.StringVar(&f.directory, "directory", "", "directory `FILE` (official lines, staff, customers); default: the sample bank of the fixtures")
	fs.StringVar(&f.rules, "rules", "", "rule `FILE`; default: the built-in rules")
	fs.StringVar(&f.lexicons, "lexicons", "", "lexicon `FILE`; default: the built-in lexicons")
	fs.StringVar(&f.model, "model", "", "text model `FILE` written by `fraudwatch train`; default: the built-in model")
	fs.StringVar(&f.minSeverity, "min-severity", "", "lowest severity that flags an event (low, medium, high, critical); default medium")
	fs.StringVar(&f.region, "region", "", "default region for national numbers; default RU")
}

// settings resolves the flags: config file and environment first (as
// for run, but only the detector, HMAC and Redis parts are used), flags
// over them, and the sample directory of the fixtures when nothing names
// one.
func (f *pipelineFlags) settings() (settings, error) {
	cfg, err := readConfig(f.config, os.LookupEnv)
	if err != nil {
		return settings{}, err
	}
	if f.rules != "" {
		cfg.Detector.Rules = f.rules
	}
	if f.lexicons != "" {
		cfg.Detector.Lexicons = f.lexicons
	}
	if f.model != "" {
		cfg.Detector.Model = f.model
	}
	if f.minSeverity != "" {
		cfg.Detector.MinSeverity = f.minSeverity
	}
	if f.region != "" {
		cfg.Detector.DefaultRegion = f.region
	}
	if f.directory != "" {
		cfg.Detector.Directory = f.directory
	}
	s, err := settingsFromConfig(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return settings{}, err
	}
	if s.directory == nil {
		s.directoryName, s.directory = "fixtures/directory.yaml (built in)", fixtures.Directory()
	}
	return s, nil
}

// pipeline is a built scoring path and what must be closed after it.
type pipeline struct {
	engine    *detector.Engine
	decode    models.DecodeOptions
	extractor *features.Extractor
	xcfg      features.Config // what extractor was built from, for reloads (reload.go)
	rep       detector.Reputation
	feedback  detector.FeedbackStore                   // the same store as rep; nil when rep was given
	pinger    interface{ Ping(context.Context) error } // nil for in-memory reputation
	closers   []func() error
}

// ping reports whether the reputation store answers.
func (p *pipeline) ping(ctx context.Context) error {
	if p.pinger == nil {
		return nil
	}
	if err := p.pinger.Ping(ctx); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// Close releases the reputation store.
func (p *pipeline) Close() error {
	var errs []error
	for i := len(p.closers) - 1; i >= 0; i-- {
		errs = append(errs, p.closers[i]())
	}
	return errors.Join(errs...)
}

// newPipeline builds extractor, rules, reputation and engine. Reputation
// lives in the Redis of s.redis when useRedis, else in memory.
func newPipeline(ctx context.Context, s settings, useRedis bool) (*pipeline, error) {
	if s.logger == nil {
		s.logger = slog.Default()
	}
	var dir *features.Directory
	if s.directory != nil {
		d, err := features.ParseDirectory(s.directory)
		if err != nil {
			return nil, fmt.Errorf("directory %s: %w", s.directoryName, err)
		}
		dir = d
	}
	lines := s.officialLines
	if len(lines) == 0 && dir != nil {
		for _, l := range dir.OfficialLines {
			lines = append(lines, l.Number)
		}
	}
	if len(lines) == 0 {
		return nil, errors.New("no official lines: configure detector.official_lines or a directory with official_lines")
	}
	model, err := loadModel(s)
	if err != nil {
		return nil, err
	}
	xcfg := features.Config{
		DefaultRegion:   s.region,
		OfficialLines:   lines,
		OfficialDomains: s.officialDomains,
		Directory:       dir,
		LexiconsPath:    s.lexiconsPath,
		Model:           model,
	}
	x, err := features.NewExtractor(xcfg)
	if err != nil {
		return nil, err
	}
	rs, err := loadRules(s.rulesPath)
	if err != nil {
		return nil, err
	}
	h, err := detector.NewSenderHasher(s.hmacVersion, []byte(s.hmacSecret))
	if err != nil {
		return nil, err
	}
	p := &pipeline{extractor: x, xcfg: xcfg}
	switch {
	case s.rep != nil:
		p.rep = s.rep
	case useRedis:
		tlsCfg, err := s.redis.tlsConfig() // a settings error, not an outage: no retry
		if err != nil {
			return nil, err
		}
		st, err := redisrep.Dial(ctx, redisrep.Options{
			Addrs:    s.redis.Addrs,
			Cluster:  s.redis.Cluster,
			Username: s.redis.Username,
			Password: s.redis.Password,
			DB:       s.redis.DB,
			TLS:      tlsCfg,
		}, redisrep.Config{Prefix: s.redis.Prefix, IDRetention: s.redis.IDRetention})
		if err != nil {
			return nil, &redisUnavailableError{addrs: strings.Join(s.redis.Addrs, ","), err: err}
		}
		p.rep, p.pinger, p.feedback = st, st, st
		p.closers = append(p.closers, st.Close)
	default:
		st, err := memrep.New(memrep.Config{IDRetention: s.redis.IDRetention})
		if err != nil {
			return nil, err
		}
		p.rep, p.feedback = st, st
	}
	p.decode = models.DecodeOptions{NormalizeSender: features.NewNumberNormalizer(s.region).Normalize}
	eng, err := detector.NewEngine(detector.EngineConfig{
		MinSeverity:   s.minSeverity,
		OfficialLines: lines,
		StaleAfter:    s.staleAfter,
		ShortCall:     s.shortCall,
		Now:           s.now,
		Logger:        s.logger,
	}, p.decode, x, p.rep, h, rs)
	if err != nil {
		p.Close()
		return nil, err
	}
	p.engine = eng
	return p, nil
}

func loadRules(path string) (*rules.Ruleset, error) {
	if path == "" {
		return rules.Default()
	}
	return rules.LoadFile(path)
}

// redisUnavailableError is a failure to reach Redis while building the
// pipeline: `run` waits and tries again, unlike a configuration error.
type redisUnavailableError struct {
	addrs string
	err   error
}

func (e *redisUnavailableError) Error() string { return fmt.Sprintf("redis %s: %v", e.addrs, e.err) }
func (e *redisUnavailableError) Unwrap() error { return e.err }
