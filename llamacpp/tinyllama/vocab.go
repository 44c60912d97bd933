package tinyllama

import (
	"fmt"
	"strings"
)

// Token types of tokenizer.ggml.token_type (enum llama_token_type).
const (
	tokNormal  int32 = 1
	tokUnknown int32 = 2
	tokControl int32 = 3
	tokByte    int32 = 6
)

// ChatMLTemplate is the chat template of the built-in vocabulary: ChatML,
// which llama.cpp's llm_chat_detect_template recognises by "<|im_start|>".
const ChatMLTemplate = "{% for message in messages %}" +
	"{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}" +
	"{% endfor %}" +
	"{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

// Ids of the built-in vocabulary's special tokens.
const (
	UnkID = 0 // <unk>
	BOSID = 1 // <s>
	EOSID = 2 // </s>
)

// The built-in vocabulary's pieces. SentencePiece's tokenizer (llama.cpp's
// llm_tokenizer_spm) starts from single characters and merges the adjacent
// pair whose concatenation is a token of highest score, so a word becomes
// one token only if a chain of merges leads to it: every word here is added
// with all its prefixes. A space is "▁" and starts a word.
var (
	commonWords = strings.Fields(`the of and to a in is it you that he was for on are with as I his they
		be at one have this from or had by not word but what some we can out other were all there when up
		use your how said an each she which do their time if will way about many then them write would like
		so these her long make thing see him two has look more day could go come did number sound no most
		people my over know water than call first who may down side been now find any new work part take get
		place made live where after back little only round man year came show every good me give our under
		name very through just form sentence great think say help low line differ turn cause much mean before
		move right boy old too same tell does set three want air well also play small end put home read hand
		port large spell add even land here must big high such follow act why ask men change went light kind
		off need house picture try us again animal point mother world near build self earth father head stand
		own page should country found answer school grow study still learn plant cover food sun four between
		state keep eye never last let thought city tree cross farm hard start might story saw far sea draw left
		late run while press close night real life few north open seem together next white children begin got
		walk example ease paper group always music those both mark often letter until mile river car feet care
		second book carry took science eat room friend began idea fish mountain stop once base hear horse cut
		sure watch color face wood main enough plain girl usual young ready above ever red list though feel
		talk bird soon body dog family direct pose leave song measure door product black short numeral class
		wind question happen complete ship area half rock order fire south problem piece told knew pass since
		top whole king space heard best hour better true during hundred five remember step early hold west
		ground interest reach fast verb sing listen six table travel less morning ten simple several vowel
		toward war lay against pattern slow center love person money serve appear road map rain rule govern
		pull cold notice voice unit power town fine certain fly fall lead cry dark machine note wait plan
		figure star box noun field rest correct able pound done beauty drive stood contain front teach week
		final gave green oh quick develop ocean warm free minute strong special mind behind clear tail produce
		fact street inch multiply nothing course stay wheel full force blue object decide surface deep moon
		island foot system busy test record boat common gold possible plane stead dry wonder laugh thousand
		ago ran check game shape equate hot miss brought heat snow tire bring yes distant fill east paint
		language among hello model token assistant user system chat tiny llama yes no please thanks`)
	capitalWords = strings.Fields(`The I It He She We They You This That What When Where Why How A In
		If On My Hello Yes No There Here Then So But And Or Is Are Do Can Will Please Thanks User Assistant`)
	suffixes = strings.Fields(`s es ed ing er ers est ly tion tions ment ness able al ful less ous ive
		ity ize ise en ic ical ship y`)
	punctuation = strings.Split(`. , ! ? ; : ' " ( ) [ ] { } - _ / \ * + = < > @ # $ % & ^ ~ | `+"`", " ")
)

// builtinVocab returns the tokens, scores and token types of the built-in
// vocabulary and the id of <|im_end|>: <unk>, <s>, </s>, the 256 byte
// tokens <0x00>..<0xFF> (ids 3 to 258, so "\n" is <0x0A> = 13 as in
// Llama's vocabulary), single characters, the pieces of common English
// words (with and without the "▁" that marks a preceding space), suffixes
// and numbers, then <|im_start|> and <|im_end|>.
//
// Scores are the negated position among the pieces, as SentencePiece
// orders pieces by frequency, so earlier (more common) pieces merge first.
func builtinVocab() (tokens []string, scores []float32, types []int32, imEnd int) {
	seen := map[string]bool{}
	add := func(tok string, score float32, typ int32) {
		if seen[tok] {
			return
		}
		seen[tok] = true
		tokens = append(tokens, tok)
		scores = append(scores, score)
		types = append(types, typ)
	}
	add("<unk>", 0, tokUnknown)
	add("<s>", 0, tokControl)
	add("</s>", 0, tokControl)
	for b := 0; b < 256; b++ {
		add(fmt.Sprintf("<0x%02X>", b), 0, tokByte)
	}
	rank := 0
	piece := func(p string) {
		if !seen[p] {
			rank++
			add(p, -float32(rank), tokNormal)
		}
	}
	// Every prefix of w (of two characters or more), shortest first.
	prefixes := func(w string) {
		r := []rune(w)
		for n := 2; n <= len(r); n++ {
			piece(string(r[:n]))
		}
	}
	piece("▁")
	for c := 'a'; c <= 'z'; c++ {
		piece(string(c))
	}
	for c := 'A'; c <= 'Z'; c++ {
		piece(string(c))
	}
	for c := '0'; c <= '9'; c++ {
		piece(string(c))
		piece("▁" + string(c))
	}
	for _, p := range punctuation {
		piece(p)
	}
	for _, w := range commonWords {
		prefixes("▁" + w)
	}
	for _, w := range capitalWords {
		prefixes("▁" + w)
	}
	// Words at the start of a line or after punctuation have no "▁".
	for _, w := range capitalWords {
		prefixes(w)
	}
	for _, w := range commonWords[:100] {
		prefixes(w)
	}
	for _, s := range suffixes {
		prefixes(s)
	}
	for n := 10; n < 100; n++ {
		piece(fmt.Sprint(n))
		piece(fmt.Sprint("▁", n))
	}
	add("<|im_start|>", 0, tokControl)
	add("<|im_end|>", 0, tokControl)
	return tokens, scores, types, len(tokens) - 1
}
