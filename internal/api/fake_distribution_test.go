package api

import (
	"context"
	"io"

	mregistry "github.com/moby/moby/api/types/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gorae/gorae/internal/registry"
)

func (f *fakeBackend) ImagePull(ctx context.Context, fromImage, tag string, platform *ocispec.Platform, auth *registry.AuthConfig, w io.Writer) error {
	if err := f.record("ImagePull", fromImage, tag, platform, *auth); err != nil {
		return err
	}
	_, err := io.WriteString(w, `{"status":"Pulling from library/busybox","id":"latest"}`+"\n")
	return err
}

func (f *fakeBackend) ImagePush(ctx context.Context, name, tag string, auth *registry.AuthConfig, w io.Writer) error {
	if err := f.record("ImagePush", name, tag, *auth); err != nil {
		return err
	}
	_, err := io.WriteString(w, `{"status":"The push refers to repository [docker.io/library/busybox]"}`+"\n")
	return err
}

func (f *fakeBackend) RegistryLogin(ctx context.Context, auth *registry.AuthConfig) (*mregistry.AuthResponse, error) {
	if err := f.record("RegistryLogin", *auth); err != nil {
		return nil, err
	}
	return &mregistry.AuthResponse{Status: "Login Succeeded"}, nil
}

func (f *fakeBackend) DistributionInspect(ctx context.Context, name string, auth *registry.AuthConfig) (*mregistry.DistributionInspect, error) {
	if err := f.record("DistributionInspect", name, *auth); err != nil {
		return nil, err
	}
	return &mregistry.DistributionInspect{Platforms: []ocispec.Platform{}}, nil
}
