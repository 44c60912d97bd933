package llm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	"gopkg.in/yaml.v3"
)

// Configurable is implemented by LLMs whose configuration can be saved and
// re-created with New (distilabel's dump and load).
type Configurable interface {
	LLM
	// TypeName is the name the implementation registered with Register.
	TypeName() string
	// Config returns the settings New needs to re-create the LLM. It must
	// marshal to JSON and YAML.
	Config() any
}

// Config is an LLM's saved configuration: its registered type name and its
// implementation's settings. It marshals to JSON and YAML as
// {"type": ..., "config": {...}}.
type Config struct {
	Type   string          `json:"type" yaml:"type"`
	Config json.RawMessage `json:"config" yaml:"-"`
}

// Factory re-creates an LLM from its JSON settings. The LLM is not loaded.
type Factory func(config json.RawMessage) (LLM, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Factory{}
)

// Register makes an implementation available to New under name. It panics
// if name is empty, f is nil or name is already registered, as
// database/sql.Register does.
func Register(name string, f Factory) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if name == "" || f == nil {
		panic("llm: Register with empty name or nil factory")
	}
	if _, dup := registry[name]; dup {
		panic("llm: Register called twice for " + name)
	}
	registry[name] = f
}

// Types lists the registered type names, sorted.
func Types() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	var names []string
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ConfigOf captures l's configuration.
func ConfigOf(l Configurable) (Config, error) {
	raw, err := json.Marshal(l.Config())
	if err != nil {
		return Config{}, fmt.Errorf("llm: marshal %s config: %w", l.TypeName(), err)
	}
	return Config{Type: l.TypeName(), Config: raw}, nil
}

// New re-creates an unloaded LLM from a Config.
func New(c Config) (LLM, error) {
	registryMu.RLock()
	f, ok := registry[c.Type]
	registryMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("llm: unknown LLM type %q (registered: %v)", c.Type, Types())
	}
	cfg := c.Config
	if len(cfg) == 0 {
		cfg = json.RawMessage("{}")
	}
	return f(cfg)
}

// MarshalYAML writes the config with its settings as a YAML mapping.
func (c Config) MarshalYAML() (any, error) {
	var settings any
	if len(c.Config) > 0 {
		d := json.NewDecoder(bytes.NewReader(c.Config))
		d.UseNumber()
		if err := d.Decode(&settings); err != nil {
			return nil, fmt.Errorf("llm: config of %s: %w", c.Type, err)
		}
		settings = jsonNumbersToYAML(settings)
	}
	return map[string]any{"type": c.Type, "config": settings}, nil
}

// UnmarshalYAML reads a config written by MarshalYAML.
func (c *Config) UnmarshalYAML(n *yaml.Node) error {
	var m struct {
		Type   string `yaml:"type"`
		Config any    `yaml:"config"`
	}
	if err := n.Decode(&m); err != nil {
		return err
	}
	raw, err := json.Marshal(yamlToJSONValue(m.Config))
	if err != nil {
		return fmt.Errorf("llm: config of %s: %w", m.Type, err)
	}
	c.Type, c.Config = m.Type, raw
	return nil
}

// ParseConfig reads a Config from JSON or YAML (JSON is YAML).
func ParseConfig(data []byte) (Config, error) {
	var c Config
	if err := yaml.Unmarshal(data, &c); err != nil {
		return Config{}, fmt.Errorf("llm: parse config: %w", err)
	}
	if c.Type == "" {
		return Config{}, fmt.Errorf("llm: parse config: no type")
	}
	return c, nil
}

func jsonNumbersToYAML(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonNumbersToYAML(e)
		}
	case []any:
		for i, e := range x {
			x[i] = jsonNumbersToYAML(e)
		}
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	}
	return v
}

// yamlToJSONValue turns the map[any]any that YAML may produce into JSON-ready values.
func yamlToJSONValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = yamlToJSONValue(e)
		}
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = yamlToJSONValue(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = yamlToJSONValue(e)
		}
	}
	return v
}
