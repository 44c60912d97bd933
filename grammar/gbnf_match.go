package grammar

// gProg is the compiled form of a grammar that Matcher runs.
type gProg struct{}
