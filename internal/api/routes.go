package api

// routes is the API's table of contents. Patterns use Go's ServeMux
// syntax; paths are matched after the /vX.Y prefix is stripped.
func (s *Server) routes() {
	// system
	s.handle("GET /_ping", s.ping)
	s.handle("HEAD /_ping", s.ping)
	s.handle("GET /version", s.getVersion)
	s.handle("GET /info", s.getInfo)
	s.handle("GET /events", s.getEvents)
	s.handle("GET /system/df", s.getDiskUsage)

	// containers
	s.handle("GET /containers/json", s.getContainersList)
	s.handle("POST /containers/create", s.postContainersCreate)
	s.handle("POST /containers/prune", s.postContainersPrune)
	s.handle("GET /containers/{id}/json", s.getContainerInspect)
	s.handle("POST /containers/{id}/start", s.postContainerStart)
	s.handle("POST /containers/{id}/stop", s.postContainerStop)
	s.handle("POST /containers/{id}/restart", s.postContainerRestart)
	s.handle("POST /containers/{id}/kill", s.postContainerKill)
	s.handle("POST /containers/{id}/pause", s.postContainerPause)
	s.handle("POST /containers/{id}/unpause", s.postContainerUnpause)
	s.handle("POST /containers/{id}/wait", s.postContainerWait)
	s.handle("POST /containers/{id}/rename", s.postContainerRename)
	s.handle("POST /containers/{id}/update", s.postContainerUpdate)
	s.handle("POST /containers/{id}/resize", s.postContainerResize)
	s.handle("POST /containers/{id}/attach", s.postContainerAttach)
	s.handle("POST /containers/{id}/exec", s.postContainerExec)
	s.handle("HEAD /containers/{id}/archive", s.headContainerArchive)
	s.handle("GET /containers/{id}/archive", s.getContainerArchive)
	s.handle("PUT /containers/{id}/archive", s.putContainerArchive)
	s.handle("GET /containers/{id}/changes", s.getContainerChanges)
	s.handle("POST /exec/{id}/start", s.postExecStart)
	s.handle("GET /exec/{id}/json", s.getExecJSON)
	s.handle("POST /exec/{id}/resize", s.postExecResize)
	s.handle("GET /containers/{id}/logs", s.getContainerLogs)
	s.handle("GET /containers/{id}/top", s.getContainerTop)
	s.handle("GET /containers/{id}/stats", s.getContainerStats)
	s.handle("GET /containers/{id}/export", s.getContainerExport)
	s.handle("DELETE /containers/{id}", s.deleteContainer)
	s.handle("POST /commit", s.postCommit)

	// images; names contain slashes, so the {name...} routes dispatch on
	// the last path element themselves (see images.go)
	s.handle("GET /images/json", s.getImagesList)
	s.handle("GET /images/get", s.getImagesSave)
	s.handle("POST /images/create", s.postImagesCreate)
	s.handle("POST /images/load", s.postImagesLoad)
	s.handle("POST /images/prune", s.postImagesPrune)
	s.handle("GET /images/{name...}", s.getImageByName)
	s.handle("POST /images/{name...}", s.postImageByName)
	s.handle("DELETE /images/{name...}", s.deleteImage)
	s.handle("POST /auth", s.postAuth)
	s.handle("GET /distribution/{name...}", s.getDistribution)

	s.networkRoutes()
	s.volumeRoutes()
	s.unsupportedRoutes()
}
