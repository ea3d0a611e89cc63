package objects

// builtinKinds lists the kinds every Scheme starts with.
func builtinKinds() []KindInfo {
	return append(coreKinds(), groupKinds()...)
}
