package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

// config is what tusk login writes and every command reads.
type config struct {
	Endpoint  string `yaml:"endpoint"`
	AccessKey string `yaml:"access_key"`
	SecretKey string `yaml:"secret_key"`
	Region    string `yaml:"region,omitempty"`
}

const defaultEndpoint = "http://127.0.0.1:9000"

// configPath is --config, else $XDG_CONFIG_HOME/tusk/config.yaml, else
// $HOME/.config/tusk/config.yaml.
func (o *rootOptions) configPath() (string, error) {
	if o.configFile != "" {
		return o.configFile, nil
	}
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "tusk", "config.yaml"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot find the config file: set HOME or XDG_CONFIG_HOME, or pass --config: %w", err)
	}
	return filepath.Join(home, ".config", "tusk", "config.yaml"), nil
}

func readConfig(path string) (*config, error) {
	var c config
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &c, nil
	}
	if err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("config file %s is not valid YAML: %v; fix it or run tusk login again", path, err)
	}
	return &c, nil
}

func writeConfig(path string, c *config) error {
	b, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// settings merges the sources: --endpoint, then the environment, then the
// config file, then the default endpoint.
func (o *rootOptions) settings() (*config, error) {
	path, err := o.configPath()
	if err != nil {
		return nil, err
	}
	c, err := readConfig(path)
	if err != nil {
		return nil, err
	}
	if v := os.Getenv("TUSK_ENDPOINT"); v != "" {
		c.Endpoint = v
	}
	ak, sk := os.Getenv("TUSK_ACCESS_KEY"), os.Getenv("TUSK_SECRET_KEY")
	if ak != "" || sk != "" {
		c.AccessKey, c.SecretKey = ak, sk
	}
	if v := os.Getenv("TUSK_REGION"); v != "" {
		c.Region = v
	}
	if o.endpoint != "" {
		c.Endpoint = o.endpoint
	}
	if c.Endpoint == "" {
		c.Endpoint = defaultEndpoint
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if (c.AccessKey == "") != (c.SecretKey == "") {
		return nil, usagef("set both TUSK_ACCESS_KEY and TUSK_SECRET_KEY, or neither")
	}
	return c, nil
}

// normalizeEndpoint accepts host:port or a URL.
func normalizeEndpoint(ep string) (string, error) {
	if !strings.Contains(ep, "://") {
		ep = "http://" + ep
	}
	u, err := url.Parse(ep)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", usagef("bad endpoint %q: use a URL such as http://127.0.0.1:9000", ep)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// ---- login ----

type loginOptions struct {
	accessKey, secretKey string
}

func newLoginCmd(root *rootOptions) *cobra.Command {
	o := &loginOptions{}
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Check your keys against the gateway and save them in the config file",
		Long: `Check an endpoint and access key against the gateway and write them to the config
file (mode 0600): $XDG_CONFIG_HOME/tusk/config.yaml, by default
~/.config/tusk/config.yaml. Values come from the flags, then TUSK_ENDPOINT,
TUSK_ACCESS_KEY and TUSK_SECRET_KEY, then a prompt on a terminal.`,
		Args: nargs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return root.report(cmd, runLogin(cmd.Context(), root, o, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.accessKey, "access-key", "", "access key id (or TUSK_ACCESS_KEY)")
	f.StringVar(&o.secretKey, "secret-key", "", "secret key (or TUSK_SECRET_KEY; prompted for on a terminal)")
	return cmd
}

func runLogin(ctx context.Context, root *rootOptions, o *loginOptions, in io.Reader, out, errw io.Writer) error {
	path, err := root.configPath()
	if err != nil {
		return err
	}
	old, err := readConfig(path)
	if err != nil {
		return err
	}
	c := &config{AccessKey: o.accessKey, SecretKey: o.secretKey, Region: old.Region}
	pick := func(v *string, vals ...string) {
		for _, x := range vals {
			if *v == "" {
				*v = x
			}
		}
	}
	pick(&c.Endpoint, root.endpoint, os.Getenv("TUSK_ENDPOINT"), old.Endpoint)
	pick(&c.AccessKey, os.Getenv("TUSK_ACCESS_KEY"))
	pick(&c.SecretKey, os.Getenv("TUSK_SECRET_KEY"))
	f, tty := in.(*os.File)
	tty = tty && isatty.IsTerminal(f.Fd())
	rd := bufio.NewReader(in)
	prompt := func(label, def string, secret bool) (string, error) {
		if !tty {
			return "", usagef("tusk login needs %s: pass --%s or set its environment variable", label, strings.ReplaceAll(label, " ", "-"))
		}
		if def != "" {
			fmt.Fprintf(errw, "%s [%s]: ", label, def)
		} else {
			fmt.Fprintf(errw, "%s: ", label)
		}
		var line string
		var err error
		if secret {
			line, err = readSecret(f)
			fmt.Fprintln(errw)
		} else {
			line, err = rd.ReadString('\n')
		}
		line = strings.TrimSpace(line)
		if err != nil && line == "" {
			return "", fmt.Errorf("reading %s: %w", label, err)
		}
		if line == "" {
			line = def
		}
		return line, nil
	}
	if c.Endpoint == "" {
		if c.Endpoint, err = prompt("endpoint", defaultEndpoint, false); err != nil {
			return err
		}
	}
	if c.AccessKey == "" {
		if c.AccessKey, err = prompt("access key", old.AccessKey, false); err != nil {
			return err
		}
	}
	if c.SecretKey == "" {
		if c.SecretKey, err = prompt("secret key", "", true); err != nil {
			return err
		}
	}
	if c.Endpoint, err = normalizeEndpoint(c.Endpoint); err != nil {
		return err
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.AccessKey == "" || c.SecretKey == "" {
		return usagef("tusk login needs an access key and a secret key")
	}
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	var who whoami
	if err := cl.do(ctx, "GET", "/whoami", nil, nil, &who); err != nil {
		return fmt.Errorf("login failed: %w", err)
	}
	if err := writeConfig(path, c); err != nil {
		return fmt.Errorf("writing the config file: %w", err)
	}
	return root.printer(out).print(loginResult{Endpoint: c.Endpoint, User: who.User, Admin: who.Admin, AccessKey: c.AccessKey, Config: path}, func(p *printer) {
		role := ""
		if who.Admin {
			role = " (admin)"
		}
		p.line("Logged in to %s as %s%s. Saved to %s", c.Endpoint, who.User, role, path)
	})
}

type loginResult struct {
	Endpoint  string `json:"endpoint"`
	User      string `json:"user"`
	Admin     bool   `json:"admin"`
	AccessKey string `json:"access_key"`
	Config    string `json:"config"`
}
