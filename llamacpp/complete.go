package llamacpp

// A constrained generation that reaches MaxNewTokens mid-structure would
// end as invalid output (an unclosed string, a missing brace). Near the end
// of its budget, the scheduler asks the Go matcher, which follows the same
// grammar byte by byte, for a short completion, and appends it when the
// budget would not otherwise suffice: the output then always parses.

// completionWindow is how close to MaxNewTokens (in tokens) completions are
// looked for; completionSlack the tokens kept in reserve, since one sampled
// token can open several structures at once. The completion itself is the
// matcher's exact shortest one (grammar.Matcher.ShortestCompletion), a few
// microseconds for typical schemas.
const (
	completionWindow = 64
	completionSlack  = 6
)
