package server

// ConsultWatches returns the number of live consultation watches held by
// this node's sessions (consult_watch with live; a session watching
// several threads counts once per thread). It falls back to 0 as those
// sessions stop watching or end.
func (s *Server) ConsultWatches() int { return s.gw.ConsultWatches() }
