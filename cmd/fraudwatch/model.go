package main

import (
	"fmt"
	"os"

	"fraudwatch/features/textmodel"
)

// loadModel returns the text model the settings name: the one given in
// memory, else the file at modelPath, else nil (the extractor then uses
// the model built into the binary).
func loadModel(s settings) (*textmodel.Model, error) {
	if s.model != nil {
		return s.model, nil
	}
	if s.modelPath == "" {
		return nil, nil
	}
	return readModelFile(s.modelPath)
}

// readModelFile reads and checks a model file; errors name the file.
func readModelFile(path string) (*textmodel.Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("text model: %w", err)
	}
	defer f.Close()
	m, err := textmodel.Read(f)
	if err != nil {
		return nil, fmt.Errorf("text model %s: %w", path, err)
	}
	return m, nil
}
