package memkv

import "math"

// This file is the memcached ASCII command interpreter. It follows
// memcached 1.6's proto_text.c closely, quirks included, because real
// clients and memccapable depend on the exact lines:
//   - a line is split on spaces only, into at most 23 tokens; commands check
//     the token count memcached's way (counting a terminal token);
//   - numbers parse like C's strtoul/strtol (leading white space and a sign
//     are accepted, trailing white space is, anything else is not), and
//     flags, exptime and length are truncated to 32 bits as memcached does;
//   - "noreply" is the second-to-last token and silences the one response
//     line of that command, errors included;
//   - a malformed storage command does not swallow its data block (the
//     block is then read as a command, usually giving ERROR), but a refused
//     too-large one does.
//
// Deliberate differences: keys containing control characters are refused
// with CLIENT_ERROR (memcached accepts them; they break text clients and
// logs); meta and administrative commands (mg/ms/md/ma/mn/me, slabs, lru,
// lru_crawler, watch, cache_memlimit) answer ERROR; values may be exactly
// --max-value-size bytes (memcached counts its item header against -I).

const (
	maxTokens    = 24 // memcached's MAX_TOKENS, including the terminal token
	maxKeyLen    = 250
	maxRelExpiry = 60 * 60 * 24 * 30 // larger exptimes are absolute Unix times
)

// --- tokenizing and dispatch ---

// tokenize splits line into c.toks like memcached's tokenize_command with
// MAX_TOKENS: nt counts the tokens plus the terminal one; rest is what
// follows the 23rd token (only retrieval commands look at it).
func (c *conn) tokenize(line []byte) (nt int, rest []byte) {
	n, i := 0, 0
	for n < maxTokens-1 {
		for i < len(line) && line[i] == ' ' {
			i++
		}
		if i == len(line) {
			break
		}
		j := i
		for j < len(line) && line[j] != ' ' {
			j++
		}
		c.toks[n] = line[i:j]
		n++
		i = j
	}
	return n + 1, line[i:]
}

// nextWord returns the first space-separated word of b and what follows.
func nextWord(b []byte) (w, rest []byte) {
	i := 0
	for i < len(b) && b[i] == ' ' {
		i++
	}
	j := i
	for j < len(b) && b[j] != ' ' {
		j++
	}
	return b[i:j], b[j:]
}

// setNoreply is memcached's set_noreply_maybe.
func (c *conn) setNoreply(nt int) bool {
	if string(c.toks[nt-2]) == "noreply" {
		c.noreply = true
	}
	return c.noreply
}

// reply appends one response line unless noreply silences it; seq is the
// log position the line's truth depends on.
func (c *conn) reply(s string, seq int64) {
	if c.noreply {
		c.noreply = false
		return
	}
	start := len(c.out)
	c.out = append(c.out, s...)
	c.out = append(c.out, "\r\n"...)
	c.depends(start, seq)
}

// process executes one command line at time c.now (set by the caller). It
// returns an error only when the connection must close (I/O error, short
// data block).
func (c *conn) process(line []byte) error {
	c.noreply = false
	nt, rest := c.tokenize(line)
	if nt < 2 || len(c.toks[0]) < 2 {
		c.reply("ERROR", 0)
		return nil
	}
	cmd := c.toks[0]
	want := func(ok bool) bool {
		if !ok {
			c.reply("ERROR", 0)
		}
		return ok
	}
	if mode, ok := storageCmd(cmd); ok {
		if want(storageArgsOK(mode, nt)) {
			return c.update(nt, mode)
		}
		return nil
	}
	switch first := cmd[0]; {
	case first == 'm' && len(cmd) == 2:
		c.reply("ERROR", 0) // meta commands are not implemented
	case first == 'g':
		if !want(nt >= 3) {
			return nil
		}
		switch string(cmd) {
		case "get":
			c.retrieve(nt, rest, false, false)
		case "gets":
			c.retrieve(nt, rest, true, false)
		case "gat":
			c.retrieve(nt, rest, false, true)
		case "gats":
			c.retrieve(nt, rest, true, true)
		default:
			c.reply("ERROR", 0)
		}
	case first == 's':
		switch string(cmd) {
		case "stats":
			c.stats(nt)
		case "shutdown":
			c.reply("ERROR: shutdown not enabled", 0)
		default:
			c.reply("ERROR", 0)
		}
	case first == 'i':
		if string(cmd) == "incr" {
			if want(nt == 4 || nt == 5) {
				c.arith(nt, false)
			}
		} else {
			c.reply("ERROR", 0)
		}
	case first == 'd':
		switch string(cmd) {
		case "delete":
			if want(nt >= 3 && nt <= 5) {
				c.delete(nt)
			}
		case "decr":
			if want(nt == 4 || nt == 5) {
				c.arith(nt, true)
			}
		default:
			c.reply("ERROR", 0)
		}
	case first == 't':
		if string(cmd) == "touch" {
			if want(nt == 4 || nt == 5) {
				c.touch(nt)
			}
		} else {
			c.reply("ERROR", 0)
		}
	case string(cmd) == "bget":
		if want(nt >= 3) {
			c.retrieve(nt, rest, false, false)
		}
	case string(cmd) == "flush_all":
		if want(nt >= 2 && nt <= 4) {
			c.flushAll(nt)
		}
	case string(cmd) == "version":
		c.reply("VERSION "+Version, 0)
	case string(cmd) == "quit":
		c.closing = true
	case string(cmd) == "verbosity":
		if want(nt == 3 || nt == 4) {
			c.setNoreply(nt)
			if _, ok := safeStrtoull(c.toks[1]); !ok {
				c.reply("CLIENT_ERROR bad command line format", 0)
			} else {
				c.reply("OK", 0)
			}
		}
	default:
		last := c.toks[nt-2]
		if len(last) >= 5 && string(last[:5]) == "HTTP/" {
			c.closing = true // memcached hangs up on HTTP requests
		} else {
			c.reply("ERROR", 0)
		}
	}
	return nil
}

// storageCmd reports whether cmd is a storage command (one followed by a
// data block) and which.
func storageCmd(cmd []byte) (storeMode, bool) {
	switch string(cmd) {
	case "set":
		return modeSet, true
	case "add":
		return modeAdd, true
	case "replace":
		return modeReplace, true
	case "append":
		return modeAppend, true
	case "prepend":
		return modePrepend, true
	case "cas":
		return modeCas, true
	}
	return 0, false
}

// storageArgsOK is the token count check of a storage command (noreply
// optional); a command failing it answers ERROR and reads no data block.
func storageArgsOK(mode storeMode, nt int) bool {
	if mode == modeCas {
		return nt == 7 || nt == 8
	}
	return nt == 6 || nt == 7
}

// blockLen returns the length of the data block (value and "\r\n") that
// the command line just tokenized (nt tokens) reads after itself, 0 when
// it reads none: it reads one when it is a storage command whose header
// update accepts. An event loop uses it to run a command only once all of
// it has arrived. It leaves c.noreply false.
func (c *conn) blockLen(nt int) int {
	if nt < 2 {
		return 0
	}
	mode, ok := storageCmd(c.toks[0])
	if !ok || !storageArgsOK(mode, nt) {
		return 0
	}
	u, errLine := c.parseUpdate(nt, mode)
	c.noreply = false
	if errLine != "" {
		return 0
	}
	return u.vlen + 2
}

// retrieve handles get, gets, gat and gats. A bad key anywhere answers
// CLIENT_ERROR and nothing else, like memcached (which drops the values it
// produced before the bad key); memkv checks every key first, so it never
// builds values it would discard. The whole answer is one reply for the
// log: it depends on the newest record of every shard it read.
func (c *conn) retrieve(nt int, rest []byte, withCas, touch bool) {
	keys := c.toks[1 : nt-1]
	var exp int64
	if touch {
		t, ok := safeStrtol(keys[0])
		if !ok {
			c.reply("CLIENT_ERROR invalid exptime argument", 0)
			return
		}
		exp = expiry(t, c.now)
		keys = keys[1:]
	}
	for _, k := range keys {
		if !validKey(k) {
			c.reply("CLIENT_ERROR bad command line format", 0)
			return
		}
	}
	for r := rest; len(r) > 0; {
		var k []byte
		if k, r = nextWord(r); len(k) > 0 && !validKey(k) {
			c.reply("CLIENT_ERROR bad command line format", 0)
			return
		}
	}
	if touch && c.logDown() {
		c.reply(logDownLine, 0)
		return
	}
	start := len(c.out)
	var seq int64
	st := c.srv.stats
	one := func(key []byte) {
		var v view
		var ok bool
		var s int64
		if touch {
			v, ok, s = c.srv.store.touch(key, exp, c.now)
			st.cmdTouch.Add(1)
			if ok {
				st.touchHits.Add(1)
			} else {
				st.touchMisses.Add(1)
			}
		} else {
			v, ok, s = c.srv.store.get(key, c.now)
			st.cmdGet.Add(1)
			if ok {
				st.getHits.Add(1)
			} else {
				st.getMisses.Add(1)
			}
		}
		seq = max(seq, s)
		if ok {
			c.out = append(c.out, "VALUE "...)
			c.out = append(c.out, key...)
			c.out = append(c.out, ' ')
			c.out = appendUint(c.out, uint64(v.flags))
			c.out = append(c.out, ' ')
			c.out = appendUint(c.out, uint64(len(v.value)))
			if withCas {
				c.out = append(c.out, ' ')
				c.out = appendUint(c.out, v.cas)
			}
			c.out = append(c.out, "\r\n"...)
			c.appendValue(v.value)
			c.out = append(c.out, "\r\n"...)
		}
	}
	// A large answer is sent as it is built, so one connection never holds
	// more than about flushThreshold of it.
	sent := false
	partial := func() bool {
		// An event loop never blocks to send; it takes no retrieval of
		// more than maxTokens-2 keys (see loopConn.frame), so the answer
		// it holds stays bounded.
		if c.lc != nil || len(c.out)+c.refLen < flushThreshold {
			return true
		}
		if err := c.flushPart(start, seq); err != nil {
			c.closing = true // the answer cannot be completed
			return false
		}
		start, sent = 0, true
		return true
	}
	for _, k := range keys {
		if one(k); !partial() {
			return
		}
	}
	for len(rest) > 0 {
		var k []byte
		if k, rest = nextWord(rest); len(k) > 0 {
			if one(k); !partial() {
				return
			}
		}
	}
	c.out = append(c.out, "END\r\n"...)
	if sent {
		// Part of the answer is out: the rest cannot become SERVER_ERROR.
		if c.flushPart(start, seq) != nil {
			c.closing = true
		}
		return
	}
	c.depends(start, seq)
}

// updateHeader is a storage command's line, parsed.
type updateHeader struct {
	key   []byte
	flags uint64
	exp   int64
	vlen  int
	casIn uint64
}

// parseUpdate parses a storage command's line (token count checked). When
// errLine is not empty the line is refused with it and no data block is
// read (memcached then reads the block as commands).
func (c *conn) parseUpdate(nt int, mode storeMode) (u updateHeader, errLine string) {
	const badFormat = "CLIENT_ERROR bad command line format"
	c.setNoreply(nt)
	u.key = c.toks[1]
	if !validKey(u.key) {
		return u, badFormat
	}
	flags, ok1 := safeStrtoull(c.toks[2])
	exptime, ok2 := safeStrtol(c.toks[3])
	vlen, ok3 := safeStrtol(c.toks[4])
	if !ok1 || !ok2 || !ok3 {
		return u, badFormat
	}
	u.flags, u.exp = flags, expiry(exptime, c.now)
	if mode == modeCas {
		var ok bool
		if u.casIn, ok = safeStrtoull(c.toks[5]); !ok {
			return u, badFormat
		}
	}
	if vlen < 0 || vlen > math.MaxInt32-2 {
		return u, badFormat
	}
	u.vlen = int(vlen)
	return u, ""
}

// update handles set, add, replace, append, prepend and cas, reading the
// data block from the connection.
func (c *conn) update(nt int, mode storeMode) error {
	u, errLine := c.parseUpdate(nt, mode)
	if errLine != "" {
		c.reply(errLine, 0)
		return nil
	}
	key, vlen := u.key, u.vlen
	st := c.srv.stats
	st.cmdSet.Add(1)
	if vlen > c.srv.store.maxValue {
		st.storeTooLarge.Add(1)
		var seq int64
		if mode == modeSet {
			seq = c.srv.store.unlink(key, c.now)
		}
		c.reply("SERVER_ERROR object too large for cache", seq)
		_, err := c.br.Discard(vlen + 2)
		return err
	}
	if c.logDown() {
		c.reply(logDownLine, 0)
		_, err := c.br.Discard(vlen + 2)
		return err
	}
	c.key = append(c.key[:0], key...) // the data read may reuse the line's buffer
	data, reserved, ok, err := c.readData(vlen + 2)
	if err != nil {
		return err
	}
	if !ok {
		c.reply(oomLine, 0) // the block was skipped; nothing changed
		return nil
	}
	if data[vlen] != '\r' || data[vlen+1] != '\n' {
		c.srv.release(reserved)
		c.reply("CLIENT_ERROR bad data chunk", 0)
		return nil
	}
	res, seq := c.srv.store.store(mode, c.key, uint32(u.flags), u.exp, data[:vlen:vlen], u.casIn, c.now)
	c.srv.release(reserved) // the store holds the value now
	if mode == modeCas {
		switch res {
		case resStored:
			st.casHits.Add(1)
		case resExists:
			st.casBadval.Add(1)
		case resNotFound:
			st.casMisses.Add(1)
		}
	}
	c.reply(storeResultLines[res], seq)
	return nil
}

func (c *conn) arith(nt int, decr bool) {
	c.setNoreply(nt)
	key := c.toks[1]
	if !validKey(key) {
		c.reply("CLIENT_ERROR bad command line format", 0)
		return
	}
	delta, ok := safeStrtoull(c.toks[2])
	if !ok {
		c.reply("CLIENT_ERROR invalid numeric delta argument", 0)
		return
	}
	if c.logDown() {
		c.reply(logDownLine, 0)
		return
	}
	n, res, seq := c.srv.store.incr(key, delta, decr, c.now)
	hits, misses := &c.srv.stats.incrHits, &c.srv.stats.incrMisses
	if decr {
		hits, misses = &c.srv.stats.decrHits, &c.srv.stats.decrMisses
	}
	switch res {
	case deltaOK:
		hits.Add(1)
		if c.noreply {
			c.noreply = false
			return
		}
		start := len(c.out)
		c.out = appendUint(c.out, n)
		c.out = append(c.out, "\r\n"...)
		c.depends(start, seq)
	case deltaNotFound:
		misses.Add(1)
		c.reply("NOT_FOUND", seq)
	default:
		c.reply("CLIENT_ERROR cannot increment or decrement non-numeric value", seq)
	}
}

func (c *conn) delete(nt int) {
	if nt > 3 {
		holdIsZero := string(c.toks[2]) == "0"
		noreply := c.setNoreply(nt)
		if !((nt == 4 && (holdIsZero || noreply)) || (nt == 5 && holdIsZero && noreply)) {
			c.reply("CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]", 0)
			return
		}
	}
	key := c.toks[1]
	if !validKey(key) {
		c.reply("CLIENT_ERROR bad command line format", 0)
		return
	}
	if c.logDown() {
		c.reply(logDownLine, 0)
		return
	}
	ok, seq := c.srv.store.delete(key, c.now)
	if ok {
		c.srv.stats.deleteHits.Add(1)
		c.reply("DELETED", seq)
	} else {
		c.srv.stats.deleteMisses.Add(1)
		c.reply("NOT_FOUND", seq)
	}
}

func (c *conn) touch(nt int) {
	c.setNoreply(nt)
	key := c.toks[1]
	if !validKey(key) {
		c.reply("CLIENT_ERROR bad command line format", 0)
		return
	}
	t, ok := safeStrtol(c.toks[2])
	if !ok {
		c.reply("CLIENT_ERROR invalid exptime argument", 0)
		return
	}
	if c.logDown() {
		c.reply(logDownLine, 0)
		return
	}
	_, ok, seq := c.srv.store.touch(key, expiry(t, c.now), c.now)
	c.srv.stats.cmdTouch.Add(1)
	if ok {
		c.srv.stats.touchHits.Add(1)
		c.reply("TOUCHED", seq)
	} else {
		c.srv.stats.touchMisses.Add(1)
		c.reply("NOT_FOUND", seq)
	}
}

func (c *conn) flushAll(nt int) {
	noreply := c.setNoreply(nt)
	var t int32
	want := 2
	if noreply {
		want = 3
	}
	if nt != want {
		var ok bool
		if t, ok = safeStrtol(c.toks[1]); !ok {
			c.reply("CLIENT_ERROR invalid exptime argument", 0)
			return
		}
	}
	var deadline int64
	if t > 0 {
		deadline = expiry(t, c.now)
	}
	if c.logDown() {
		c.reply(logDownLine, 0)
		return
	}
	c.srv.stats.cmdFlush.Add(1)
	c.reply("OK", c.srv.store.flushAll(deadline, c.now))
}
