package spec

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"unicode/utf8"

	"github.com/hashicorp/go-cty-funcs/crypto"
	"github.com/hashicorp/go-cty-funcs/encoding"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// sensitiveMark marks a cty value read through env() or file(). cty carries
// marks through operators, templates and functions, so anything computed
// from such a value is sensitive too.
type sensitiveMarkType struct{}

var sensitiveMark = sensitiveMarkType{}

func (sensitiveMarkType) GoString() string { return "spec.sensitiveMark" }

// functions returns the functions available in expressions. env and file
// read through the loader (its Options), and pass what they return to
// record (l.recordSecret, or a buffer of one certificate decoded early; see
// prepareCertificate) so the loader can scrub it from any diagnostic text as
// a last line of defence. Functions that read the clock or generate random
// values are left out on purpose: loading the same files must give the same
// Config.
func (l *loader) functions(record func(string)) map[string]function.Function {
	return map[string]function.Function{
		"env":          l.envFunc(record),
		"file":         l.fileFunc(record),
		"nonsensitive": nonsensitiveFunc,
		"sensitive":    sensitiveFunc,

		"abs":             stdlib.AbsoluteFunc,
		"base64decode":    encoding.Base64DecodeFunc,
		"base64encode":    encoding.Base64EncodeFunc,
		"can":             tryfunc.CanFunc,
		"ceil":            stdlib.CeilFunc,
		"chomp":           stdlib.ChompFunc,
		"chunklist":       stdlib.ChunklistFunc,
		"coalesce":        stdlib.CoalesceFunc,
		"coalescelist":    stdlib.CoalesceListFunc,
		"compact":         stdlib.CompactFunc,
		"concat":          stdlib.ConcatFunc,
		"contains":        stdlib.ContainsFunc,
		"csvdecode":       stdlib.CSVDecodeFunc,
		"distinct":        stdlib.DistinctFunc,
		"element":         stdlib.ElementFunc,
		"flatten":         stdlib.FlattenFunc,
		"floor":           stdlib.FloorFunc,
		"format":          stdlib.FormatFunc,
		"formatlist":      stdlib.FormatListFunc,
		"indent":          stdlib.IndentFunc,
		"join":            stdlib.JoinFunc,
		"jsondecode":      stdlib.JSONDecodeFunc,
		"jsonencode":      stdlib.JSONEncodeFunc,
		"keys":            stdlib.KeysFunc,
		"length":          stdlib.LengthFunc,
		"log":             stdlib.LogFunc,
		"lookup":          stdlib.LookupFunc,
		"lower":           stdlib.LowerFunc,
		"max":             stdlib.MaxFunc,
		"merge":           stdlib.MergeFunc,
		"min":             stdlib.MinFunc,
		"parseint":        stdlib.ParseIntFunc,
		"pow":             stdlib.PowFunc,
		"range":           stdlib.RangeFunc,
		"regex":           stdlib.RegexFunc,
		"regexall":        stdlib.RegexAllFunc,
		"regex_replace":   stdlib.RegexReplaceFunc,
		"replace":         stdlib.ReplaceFunc,
		"reverse":         stdlib.ReverseListFunc,
		"setintersection": stdlib.SetIntersectionFunc,
		"setproduct":      stdlib.SetProductFunc,
		"setsubtract":     stdlib.SetSubtractFunc,
		"setunion":        stdlib.SetUnionFunc,
		"sha256":          crypto.Sha256Func,
		"signum":          stdlib.SignumFunc,
		"slice":           stdlib.SliceFunc,
		"sort":            stdlib.SortFunc,
		"split":           stdlib.SplitFunc,
		"strrev":          stdlib.ReverseFunc,
		"substr":          stdlib.SubstrFunc,
		"title":           stdlib.TitleFunc,
		"tobool":          stdlib.MakeToFunc(cty.Bool),
		"tolist":          stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"tomap":           stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
		"tonumber":        stdlib.MakeToFunc(cty.Number),
		"toset":           stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"tostring":        stdlib.MakeToFunc(cty.String),
		"trim":            stdlib.TrimFunc,
		"trimprefix":      stdlib.TrimPrefixFunc,
		"trimspace":       stdlib.TrimSpaceFunc,
		"trimsuffix":      stdlib.TrimSuffixFunc,
		"try":             tryfunc.TryFunc,
		"upper":           stdlib.UpperFunc,
		"urlencode":       encoding.URLEncodeFunc,
		"values":          stdlib.ValuesFunc,
		"zipmap":          stdlib.ZipmapFunc,
	}
}

// envFunc is env(NAME): the value of an environment variable, sensitive.
// An unset variable is an error (a typo should not silently become ""); use
// try(env("X"), "default") for an optional one.
func (l *loader) envFunc(record func(string)) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the value of an environment variable, marked sensitive.",
		Params:      []function.Parameter{{Name: "name", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		RefineResult: func(b *cty.RefinementBuilder) *cty.RefinementBuilder {
			return b.NotNull()
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			name := args[0].AsString()
			v, ok := l.lookupEnv(name)
			if !ok {
				return cty.NilVal, function.NewArgErrorf(0, "the environment variable %q is not set", name)
			}
			record(v)
			return cty.StringVal(v).Mark(sensitiveMark), nil
		},
	})
}

// fileFunc is file(PATH): the contents of a UTF-8 file, sensitive. A
// relative path is relative to the configuration directory.
func (l *loader) fileFunc(record func(string)) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the contents of a file, marked sensitive.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		RefineResult: func(b *cty.RefinementBuilder) *cty.RefinementBuilder {
			return b.NotNull()
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			b, err := l.readFile(p)
			if err != nil {
				return cty.NilVal, function.NewArgError(0, err)
			}
			if !utf8.Valid(b) {
				return cty.NilVal, function.NewArgErrorf(0, "the file %q is not valid UTF-8 text", p)
			}
			s := string(b)
			record(s)
			return cty.StringVal(s).Mark(sensitiveMark), nil
		},
	})
}

func (l *loader) readFile(p string) ([]byte, error) {
	if p == "" {
		return nil, fmt.Errorf("the path is empty")
	}
	if l.fsys == nil {
		if !filepath.IsAbs(p) {
			p = filepath.Join(l.dir, p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("cannot read %q: %v", displayPath(p, l.dir), unwrapPathError(err))
		}
		return b, nil
	}
	clean := path.Clean(filepath.ToSlash(p))
	if !fs.ValidPath(clean) {
		return nil, fmt.Errorf("cannot read %q: only paths inside the configuration directory can be read here", p)
	}
	b, err := fs.ReadFile(l.fsys, clean)
	if err != nil {
		return nil, fmt.Errorf("cannot read %q: %v", p, unwrapPathError(err))
	}
	return b, nil
}

// displayPath shows a path relative to dir when it is inside it.
func displayPath(p, dir string) string {
	if rel, err := filepath.Rel(dir, p); err == nil && filepath.IsLocal(rel) {
		return rel
	}
	return p
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}

// nonsensitiveFunc removes the sensitive mark: the operator states that the
// value may be shown (a list of names read with file(), for example).
var nonsensitiveFunc = markFunc("Removes the sensitive mark from a value.", func(v cty.Value) cty.Value {
	v, _ = v.UnmarkDeep()
	return v
})

// sensitiveFunc marks a value sensitive, as env() and file() do.
var sensitiveFunc = markFunc("Marks a value sensitive.", func(v cty.Value) cty.Value {
	return v.Mark(sensitiveMark)
})

// markFunc is a one-argument function of any value that changes only its
// marks.
func markFunc(description string, f func(cty.Value) cty.Value) function.Function {
	return function.New(&function.Spec{
		Description: description,
		Params: []function.Parameter{{
			Name:             "value",
			Type:             cty.DynamicPseudoType,
			AllowMarked:      true,
			AllowNull:        true,
			AllowUnknown:     true,
			AllowDynamicType: true,
		}},
		Type: func(args []cty.Value) (cty.Type, error) { return args[0].Type(), nil },
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) { return f(args[0]), nil },
	})
}
