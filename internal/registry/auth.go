package registry

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
)

// AuthConfig is Docker's credential record, as the docker CLI sends it in
// the X-Registry-Auth header and in POST /auth's body.
type AuthConfig struct {
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	Auth          string `json:"auth,omitempty"`
	Email         string `json:"email,omitempty"`
	ServerAddress string `json:"serveraddress,omitempty"`
	// IdentityToken is an OAuth2 refresh token, exchanged for bearer
	// tokens (what `docker login` gets back from a token server).
	IdentityToken string `json:"identitytoken,omitempty"`
	// RegistryToken is a bearer token sent to the registry as is.
	RegistryToken string `json:"registrytoken,omitempty"`
}

// maxAuthHeader bounds the header we decode: credentials are short, and
// a hostile client must not make us allocate much.
const maxAuthHeader = 64 << 10

// DecodeAuthHeader decodes X-Registry-Auth: base64url of the JSON
// AuthConfig, padded or not (the docker CLI pads; some SDKs do not). An
// empty header is anonymous access.
func DecodeAuthHeader(h string) (*AuthConfig, error) {
	h = strings.TrimSpace(h)
	if h == "" {
		return &AuthConfig{}, nil
	}
	if len(h) > maxAuthHeader {
		return nil, fmt.Errorf("invalid X-Registry-Auth header: %d bytes, more than the %d allowed", len(h), maxAuthHeader)
	}
	var data []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.URLEncoding, base64.RawURLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
		if data, err = enc.DecodeString(h); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("invalid X-Registry-Auth header: not base64url: %w", err)
	}
	return DecodeAuthJSON(data)
}

// DecodeAuthJSON decodes an AuthConfig (POST /auth's body, or a decoded
// header); "auth" (base64 of user:password) fills an empty user and
// password, as in ~/.docker/config.json.
func DecodeAuthJSON(data []byte) (*AuthConfig, error) {
	var a AuthConfig
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("invalid registry credentials: not an AuthConfig JSON object: %w", err)
	}
	if a.Auth != "" && a.Username == "" && a.Password == "" {
		raw, err := base64.StdEncoding.DecodeString(a.Auth)
		if err != nil {
			if raw, err = base64.RawStdEncoding.DecodeString(a.Auth); err != nil {
				return nil, errors.New("invalid registry credentials: \"auth\" is not base64 of user:password")
			}
		}
		user, pass, ok := strings.Cut(string(raw), ":")
		if !ok {
			return nil, errors.New("invalid registry credentials: \"auth\" is not base64 of user:password")
		}
		a.Username, a.Password = user, pass
	}
	return &a, nil
}

// authenticator is what go-containerregistry's transports ask for
// credentials; nil or empty means anonymous.
func (a *AuthConfig) authenticator() authn.Authenticator {
	if a == nil || (a.Username == "" && a.Password == "" && a.IdentityToken == "" && a.RegistryToken == "") {
		return authn.Anonymous
	}
	return authn.FromConfig(authn.AuthConfig{
		Username: a.Username, Password: a.Password,
		IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken,
	})
}
