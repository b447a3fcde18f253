package gcpkms

// SetOpenOptions makes the opener registered with kms.Open pass opts to
// OpenURI, so tests can point kms.Open at a local server. The returned
// function restores the previous options.
func SetOpenOptions(opts ...Opt) (restore func()) {
	saved := openOpts
	openOpts = opts
	return func() { openOpts = saved }
}
