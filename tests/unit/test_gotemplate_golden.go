// Golden-output generator for Berth's Go text/template engine
// (src/berth/gotemplate).  It reads the case table written by
// test_gotemplate_golden.py on stdin and prints what Go's own text/template,
// encoding/json and text/tabwriter produce for each case.
//
// Regenerate with:  python3 tests/unit/test_gotemplate_golden.py --regen
// (needs Debian's golang-go; the test itself needs no Go).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"text/template"
)

type Port struct {
	IP          string
	PrivatePort int
	PublicPort  int
	Type        string
}

type Row struct {
	ID     string
	Names  []string
	Size   int
	Ratio  float64
	Up     bool
	Labels map[string]interface{}
	Ports  []Port
	Extra  interface{}
	secret string
}

func (r *Row) Upper() string                        { return strings.ToUpper(r.ID) }
func (r *Row) Label(k string) string                { s, _ := r.Labels[k].(string); return s }
func (r *Row) Fail() (string, error)                { return "", errors.New("boom") }
func (r *Row) Sum(a, b int) int                     { return a + b }
func (r *Row) Join(sep string, parts ...string) string { return strings.Join(parts, sep) }

type header map[string]string

func (h header) Label(name string) string {
	parts := strings.Split(name, ".")
	last := parts[len(parts)-1]
	return strings.NewReplacer("-", " ", "_", " ").Replace(last)
}

type tcase struct {
	ID         string   `json:"id"`
	Kind       string   `json:"kind"`
	Tmpl       string   `json:"tmpl"`
	Env        string   `json:"env"`
	MissingKey string   `json:"missingkey"`
	Name       string   `json:"name"`
	Input      string   `json:"input"`
	Header     string   `json:"header"`
}

type input struct {
	Envs  map[string]string `json:"envs"`
	Cases []tcase           `json:"cases"`
}

type result struct {
	Out string  `json:"out"`
	Err *string `json:"err"`
}

// normalize turns json.Number into int or float64, as Python's json.loads does.
func normalize(v interface{}) interface{} {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil && !strings.ContainsAny(string(x), ".eE") {
			return int(i)
		}
		f, _ := x.Float64()
		return f
	case map[string]interface{}:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case []interface{}:
		for i, e := range x {
			x[i] = normalize(e)
		}
		return x
	}
	return v
}

func decode(text string, useNumber bool) interface{} {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v interface{}
	if err := dec.Decode(&v); err != nil {
		panic(err)
	}
	if useNumber {
		return v
	}
	return normalize(v)
}

func dockerJSON(v interface{}) string {
	buf := &bytes.Buffer{}
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	return strings.TrimSpace(buf.String())
}

func dockerFuncs() template.FuncMap {
	return template.FuncMap{
		"json":  dockerJSON,
		"split": strings.Split,
		"join":  strings.Join,
		"title": strings.Title,
		"lower": strings.ToLower,
		"upper": strings.ToUpper,
		"pad": func(s string, prefix, suffix int) string {
			if s == "" {
				return s
			}
			return strings.Repeat(" ", prefix) + s + strings.Repeat(" ", suffix)
		},
		"truncate": func(s string, n int) string {
			if len(s) < n {
				return s
			}
			return s[:n]
		},
		"double":   func(n int) int { return 2 * n },
		"fail":     func() (string, error) { return "", errors.New("failed on purpose") },
		"variadic": func(s string, ns ...int) string { return fmt.Sprint(s, ns) },
		"half":     func(f float64) float64 { return f / 2 },
		"yes":      func(b bool) bool { return b },
	}
}

func headerFuncs() template.FuncMap {
	same := func(v string) string { return v }
	same2 := func(v string, _ string) string { return v }
	return template.FuncMap{
		"json": same, "split": same2, "join": same2, "title": same, "lower": same,
		"upper":    same,
		"truncate": func(v string, _ int) string { return v },
	}
}

func envs(jsonEnvs map[string]string) map[string]interface{} {
	e := map[string]interface{}{}
	for name, text := range jsonEnvs {
		e[name] = decode(text, strings.HasPrefix(name, "num"))
	}
	row := &Row{
		ID: "abc123", Names: []string{"web", "frontend"}, Size: 2048, Ratio: 0.25, Up: true,
		Labels: map[string]interface{}{"com.example.vendor": "acme", "tier": "front"},
		Ports:  []Port{{"0.0.0.0", 80, 8080, "tcp"}, {"", 53, 0, "udp"}},
		secret: "s3",
	}
	e["row"] = row
	e["nil"] = nil
	e["fn"] = map[string]interface{}{
		"Add":   func(a, b int) int { return a + b },
		"Fail":  func() (int, error) { return 0, errors.New("fn failed") },
		"Greet": func(name string) string { return "hello " + name },
		"Var":   func(xs ...string) string { return strings.Join(xs, "+") },
		"NotFn": 3,
	}
	e["special"] = map[string]interface{}{
		"NaN": math.NaN(), "Inf": math.Inf(1), "NegZero": math.Copysign(0, -1),
		"Rows": []*Row{row},
		"Port": Port{"127.0.0.1", 22, 2222, "tcp"},
	}
	return e
}

func runTemplate(c tcase, data interface{}) result {
	t := template.New(c.Name).Funcs(dockerFuncs())
	if c.MissingKey != "" {
		t = t.Option("missingkey=" + c.MissingKey)
	}
	t, err := t.Parse(c.Tmpl)
	if err != nil {
		s := err.Error()
		return result{Err: &s}
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		s := err.Error()
		return result{Out: buf.String(), Err: &s}
	}
	return result{Out: buf.String()}
}

func runTab(c tcase) result {
	var buf bytes.Buffer
	w := tabwriter.NewWriter(&buf, 10, 1, 3, ' ', 0)
	w.Write([]byte(c.Input))
	w.Flush()
	return result{Out: buf.String()}
}

// runTable follows docker's formatter.Context.Write for a list of row maps.
func runTable(c tcase, data interface{}, hdr header) result {
	format := c.Tmpl
	isTable := strings.HasPrefix(format, "table")
	if isTable {
		format = format[len("table"):]
	} else if format == "json" {
		format = "{{json .}}"
	}
	format = strings.Trim(format, " ")
	format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
	t, err := template.New("").Funcs(dockerFuncs()).Parse(format)
	if err != nil {
		s := err.Error()
		return result{Err: &s}
	}
	var body bytes.Buffer
	rows, _ := data.([]interface{})
	for _, r := range rows {
		if err := t.Execute(&body, r); err != nil {
			s := err.Error()
			return result{Err: &s}
		}
		body.WriteString("\n")
	}
	if !isTable {
		return result{Out: body.String()}
	}
	var out bytes.Buffer
	w := tabwriter.NewWriter(&out, 10, 1, 3, ' ', 0)
	var head bytes.Buffer
	t.Funcs(headerFuncs()).Execute(&head, hdr)
	head.WriteTo(w)
	w.Write([]byte("\n"))
	body.WriteTo(w)
	w.Flush()
	return result{Out: out.String()}
}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		panic(err)
	}
	e := envs(in.Envs)
	out := map[string]result{}
	for _, c := range in.Cases {
		switch c.Kind {
		case "tab":
			out[c.ID] = runTab(c)
		case "table":
			var h map[string]string
			json.Unmarshal([]byte(c.Header), &h)
			out[c.ID] = runTable(c, e[c.Env], header(h))
		default:
			out[c.ID] = runTemplate(c, e[c.Env])
		}
	}
	ids := make([]string, 0, len(out))
	for id := range out {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	ordered := make([]map[string]interface{}, 0, len(ids))
	for _, id := range ids {
		r := out[id]
		ordered = append(ordered, map[string]interface{}{"id": id, "out": r.Out, "err": r.Err})
	}
	enc.Encode(ordered)
}
