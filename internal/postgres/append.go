package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/internal/events"
)

// convKey names a conversation across apps.
type convKey struct{ app, conv string }

func compareConvKeys(a, b convKey) int {
	return cmp.Or(cmp.Compare(a.app, b.app), cmp.Compare(a.conv, b.conv))
}

// cmidKey is what makes a message a duplicate: (app, sender, client id).
type cmidKey struct{ app, sender, cmid string }

// convBatch is what one Append batch does to one conversation.
type convBatch struct {
	exists  bool
	group   bool   // kind group: only the conversation's and the senders' vers move
	last    uint64 // last_seq, including this batch's messages
	senders map[string]uint64
}

// appendOutcome is what an Append transaction decided, applied to the
// input messages only once it has committed.
type appendOutcome struct {
	results []parley.AppendResult
	seqs    []uint64               // the seq assigned to each new message
	dupOf   map[int]int            // a duplicate of an earlier message of the batch
	stored  map[int]parley.Message // a duplicate of a message stored before
}

// Statements of Append. lockConvs locks the batch's conversations in key
// order, so that concurrent Appends (on any node) wait for each other per
// conversation and never deadlock; it also serialises every other write
// to a conversation's seqs (ChangeGroup locks the same row).
const (
	lockConvs = `SELECT app_id, id, kind = 'group', last_seq FROM conversations
		WHERE (app_id, id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
		ORDER BY app_id, id FOR NO KEY UPDATE`
	findDups = `SELECT ` + messageCols + ` FROM messages
		WHERE client_msg_id <> ''
			AND (app_id, sender, client_msg_id) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))`
	insertMessages = `INSERT INTO messages (` + messageCols + `)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[],
			$7::text[], $8::text[], $9::bigint[], $10::text[])`
	// The ORDER BY gives the rows their search ids in input order.
	insertSearch = `INSERT INTO message_search (app_id, conv_id, seq, doc)
		SELECT a, c, s, d::tsvector FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[])
			WITH ORDINALITY AS x(a, c, s, d, i) ORDER BY i`
	// lockMembers locks, before the counter, every member row that
	// setVers will write: all members of a direct conversation (user
	// ''), the senders of a group; in key order, as MarkRead does.
	lockMembers = `SELECT count(*) FROM (SELECT 1 FROM members m
		JOIN unnest($1::text[], $2::text[], $3::text[]) AS x(a, c, u)
			ON m.app_id = x.a AND m.conv_id = x.c AND (x.u = '' OR m.user_id = x.u)
		ORDER BY m.app_id, m.conv_id, m.user_id FOR NO KEY UPDATE OF m) AS l`
	// readTo moves each sender's read cursor to their newest message.
	readTo = `UPDATE members m SET read_seq = GREATEST(m.read_seq, s.seq)
		FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS s(app, conv, usr, seq)
		WHERE m.app_id = s.app AND m.conv_id = s.conv AND m.user_id = s.usr AND m.left_seq = 0`
	// setLastSeqs moves the conversations' last_seq (rows locked by
	// lockConvs; no index covers the column, so the update is cheap).
	setLastSeqs = `UPDATE conversations c SET last_seq = x.last
		FROM unnest($1::text[], $2::text[], $3::bigint[]) AS x(app, conv, last)
		WHERE c.app_id = x.app AND c.id = x.conv`
	// setVers takes the versions (one per conversation, numbered off
	// within its app) and writes them to the group conversations (only
	// group members read conversations.ver) and to the member rows
	// lockMembers locked, in one statement of key lookups: the counter's
	// lock is held from here to the commit and no longer.
	setVers = `WITH x AS (SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bool[])
			AS x(app, conv, off, grp)),
		` + bumpChanges + `,
		v AS (SELECT x.app, x.conv, x.grp, k.ver - n.cnt + x.off AS ver
			FROM x JOIN n ON n.app = x.app JOIN k ON k.app_id = x.app),
		c AS (UPDATE conversations c SET ver = v.ver FROM v
			WHERE v.grp AND c.app_id = v.app AND c.id = v.conv)
		UPDATE members m SET ver = v.ver
		FROM v JOIN unnest($5::text[], $6::text[], $7::text[]) AS t(app, conv, usr) ON t.app = v.app AND t.conv = v.conv
		WHERE m.app_id = t.app AND m.conv_id = t.conv AND (t.usr = '' OR (m.user_id = t.usr AND m.left_seq = 0))`
)

// Append persists a batch of messages in one transaction (see
// parley.ConvStore) in two round trips: BEGIN, the batch's conversations
// locked and the stored duplicates found; then every new message and its
// search document inserted, seqs, read cursors and change versions
// written, and COMMIT. A message whose
// conversation does not exist gets Err ENotFound and the others still
// commit. The input messages are updated only once the batch has
// committed; on error nothing is stored and nothing is changed.
//
// Seqs are assigned under the conversations' row locks, so they are
// gapless however many nodes append to one conversation; change versions
// come from the app's counter (decision record 0005), taken in the last
// statement before the commit.
func (s *Store) Append(ctx context.Context, msgs []*parley.Message) ([]parley.AppendResult, error) {
	const op = "postgres.Append"
	if len(msgs) == 0 {
		return []parley.AppendResult{}, nil
	}
	docs := make([]string, len(msgs)) // analysed outside the transaction
	for i, m := range msgs {
		docs[i] = searchDoc(m.Kind, m.Body)
	}
	var out *appendOutcome
	var err error
	for range maxAttempts {
		if out, err = s.appendOnce(ctx, msgs, docs); !retryable(err) {
			break
		}
	}
	if err != nil {
		return nil, internal(op, err)
	}
	for i, m := range msgs {
		switch {
		case out.results[i].Err != nil:
		case out.results[i].Dup:
			if j, ok := out.dupOf[i]; ok {
				*m = *msgs[j]
			} else {
				*m = out.stored[i]
			}
		default:
			m.Seq = out.seqs[i]
		}
	}
	return out.results, nil
}

// appendOnce runs Append's transaction once on a connection of its own.
// BEGIN and COMMIT travel in the pipelines of its two round trips rather
// than in round trips of their own (as pgx.Tx would send them): the app's
// change counter, taken by the second pipeline's last statement, is then
// held for that statement and the commit only, not for a round trip to
// this process as well. On error the transaction is rolled back, and a
// connection left in a transaction is closed by the pool on release.
func (s *Store) appendOnce(ctx context.Context, msgs []*parley.Message, docs []string) (*appendOutcome, error) {
	conn, err := s.w.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	out, err := appendTx(ctx, conn.Conn(), msgs, docs)
	if err != nil && conn.Conn().PgConn().TxStatus() != 'I' {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "rollback")
	}
	return out, err
}

// appendTx runs the statements of appendOnce on conn, BEGIN to COMMIT.
func appendTx(ctx context.Context, conn *pgx.Conn, msgs []*parley.Message, docs []string) (*appendOutcome, error) {
	const op = "postgres.Append"
	convs := make(map[convKey]*convBatch)
	var keys []convKey
	var dupApps, dupSenders, dupCmids []string
	for _, m := range msgs {
		k := convKey{m.AppID, m.ConvID}
		if convs[k] == nil {
			convs[k] = &convBatch{}
			keys = append(keys, k)
		}
		if m.ClientMsgID != "" {
			dupApps, dupSenders, dupCmids = append(dupApps, m.AppID), append(dupSenders, m.Sender), append(dupCmids, m.ClientMsgID)
		}
	}
	slices.SortFunc(keys, compareConvKeys)
	apps, ids := make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		apps[i], ids[i] = k.app, k.conv
	}

	// Round trip 1: lock the conversations, then (under the locks, so no
	// other Append to them can store one meanwhile) find duplicates.
	stored := make(map[cmidKey]parley.Message)
	b := &pgx.Batch{}
	b.Queue("begin")
	b.Queue(lockConvs, apps, ids).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var k convKey
			var c convBatch
			var last int64
			if err := rows.Scan(&k.app, &k.conv, &c.group, &last); err != nil {
				return err
			}
			c.exists, c.last = true, uint64(last)
			*convs[k] = c
		}
		return rows.Err()
	})
	if len(dupCmids) > 0 {
		b.Queue(findDups, dupApps, dupSenders, dupCmids).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var m parley.Message
				if err := scanFullMessage(rows, &m); err != nil {
					return err
				}
				stored[cmidKey{m.AppID, m.Sender, m.ClientMsgID}] = m
			}
			return rows.Err()
		})
	}
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}

	out := &appendOutcome{
		results: make([]parley.AppendResult, len(msgs)),
		seqs:    make([]uint64, len(msgs)),
		dupOf:   map[int]int{},
		stored:  map[int]parley.Message{},
	}
	var ins messageColumns
	var searchDocs []string
	var ranges []events.MsgRange   // the outbox row: per conversation, by its first new message
	rangeOf := map[convKey]int{}   // index in ranges
	first := make(map[cmidKey]int) // the batch's new message with each client id
	for i, m := range msgs {
		c := convs[convKey{m.AppID, m.ConvID}]
		if !c.exists {
			out.results[i].Err = notFound(op, "conversation %q not found", m.ConvID)
			continue
		}
		if m.ClientMsgID != "" {
			ck := cmidKey{m.AppID, m.Sender, m.ClientMsgID}
			if orig, ok := stored[ck]; ok {
				out.results[i].Dup, out.stored[i] = true, orig
				continue
			}
			if j, ok := first[ck]; ok {
				out.results[i].Dup, out.dupOf[i] = true, j
				continue
			}
			first[ck] = i
		}
		c.last++
		out.seqs[i] = c.last
		if c.senders == nil {
			c.senders = make(map[string]uint64)
		}
		c.senders[m.Sender] = c.last // seqs only grow within a batch
		if r, ok := rangeOf[convKey{m.AppID, m.ConvID}]; ok {
			ranges[r].Last = c.last
		} else {
			rangeOf[convKey{m.AppID, m.ConvID}] = len(ranges)
			ranges = append(ranges, events.MsgRange{App: m.AppID, Conv: m.ConvID, First: c.last, Last: c.last})
		}
		if err := ins.add(m, c.last); err != nil {
			return nil, err
		}
		searchDocs = append(searchDocs, docs[i])
	}
	if len(ins.ids) == 0 { // only duplicates and missing conversations
		if _, err := conn.Exec(ctx, "commit"); err != nil {
			return nil, err
		}
		return out, nil
	}

	// Round trip 2: the messages, their search documents, the outbox
	// row, then the member locks and read cursors and, last, the
	// versions and COMMIT.
	var lockApps, lockConvs, lockUsers []string
	var vApps, vConvs []string
	var vLasts, vOffs []int64
	var vGroups []bool
	var sApps, sConvs, sUsers []string
	var sSeqs []int64
	off := map[string]int64{}
	for _, k := range keys {
		c := convs[k]
		if len(c.senders) == 0 {
			continue // missing, or only duplicates
		}
		off[k.app]++
		vApps, vConvs, vLasts, vOffs, vGroups = append(vApps, k.app), append(vConvs, k.conv),
			append(vLasts, int64(c.last)), append(vOffs, off[k.app]), append(vGroups, c.group)
		senders := slices.Sorted(maps.Keys(c.senders))
		for _, u := range senders {
			sApps, sConvs, sUsers, sSeqs = append(sApps, k.app), append(sConvs, k.conv), append(sUsers, u),
				append(sSeqs, int64(c.senders[u]))
		}
		if !c.group {
			senders = []string{""} // every member
		}
		for _, u := range senders {
			lockApps, lockConvs, lockUsers = append(lockApps, k.app), append(lockConvs, k.conv), append(lockUsers, u)
		}
	}
	b = &pgx.Batch{}
	b.Queue(insertMessages, ins.args()...)
	b.Queue(insertSearch, ins.apps, ins.convs, ins.seqs, searchDocs)
	b.Queue(outboxMsgs, outboxJSON(ranges))
	b.Queue(lockMembers, lockApps, lockConvs, lockUsers)
	b.Queue(readTo, sApps, sConvs, sUsers, sSeqs)
	b.Queue(setLastSeqs, vApps, vConvs, vLasts)
	b.Queue(setVers, vApps, vConvs, vOffs, vGroups, lockApps, lockConvs, lockUsers)
	b.Queue("commit").Exec(func(ct pgconn.CommandTag) error {
		if ct.String() != "COMMIT" {
			return fmt.Errorf("commit answered %q", ct)
		}
		return nil
	})
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "messages_by_client_id" {
			// Another transaction stored the same (app, sender, client
			// id) in another conversation after our look: the next
			// attempt finds it.
			return nil, errRetry
		}
		return nil, err
	}
	return out, nil
}

// messageCols are the columns of a stored message, in the order
// scanFullMessage reads them.
const messageCols = `app_id, conv_id, seq, id, sender, client_msg_id, kind, body, ts, variants`

// messageColumns are the columns of messages to insert, one slice per
// column, for unnest.
type messageColumns struct {
	apps, convs, ids, senders, cmids, kinds, bodies []string
	seqs, times                                     []int64
	variants                                        []*string
}

func (c *messageColumns) add(m *parley.Message, seq uint64) error {
	v, err := variantsArg(m.Variants)
	if err != nil {
		return err
	}
	c.apps, c.convs, c.seqs = append(c.apps, m.AppID), append(c.convs, m.ConvID), append(c.seqs, int64(seq))
	c.ids, c.senders, c.cmids = append(c.ids, m.ID), append(c.senders, m.Sender), append(c.cmids, m.ClientMsgID)
	c.kinds, c.bodies, c.times = append(c.kinds, string(m.Kind)), append(c.bodies, string(m.Body)), append(c.times, m.Time)
	c.variants = append(c.variants, v)
	return nil
}

func (c *messageColumns) args() []any {
	return []any{c.apps, c.convs, c.seqs, c.ids, c.senders, c.cmids, c.kinds, c.bodies, c.times, c.variants}
}

// scanFullMessage reads messageCols.
func scanFullMessage(row pgx.Row, m *parley.Message) error {
	var seq int64
	var kind, body string
	var variants *string
	if err := row.Scan(&m.AppID, &m.ConvID, &seq, &m.ID, &m.Sender, &m.ClientMsgID, &kind, &body, &m.Time, &variants); err != nil {
		return err
	}
	m.Seq, m.Kind, m.Body = uint64(seq), parley.Kind(kind), []byte(body)
	return setVariants(m, variants)
}

// variantsArg is the value of messages.variants for a message: NULL
// without variants (nearly every message), their JSON array otherwise.
func variantsArg(vs []parley.Variant) (*string, error) {
	if len(vs) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(vs)
	if err != nil {
		return nil, err
	}
	s := string(b)
	return &s, nil
}

// setVariants decodes a messages.variants value into m.
func setVariants(m *parley.Message, v *string) error {
	m.Variants = nil
	if v == nil || *v == "" {
		return nil
	}
	return json.Unmarshal([]byte(*v), &m.Variants)
}
