package client

import "testing"

func TestQueueTakeReusesSpare(t *testing.T) {
	q := newQueue()
	q.push(event{kind: evPush, n: 1})
	q.push(event{kind: evPush, n: 2, raw: []byte("x")})
	a := q.take(nil)
	if len(a) != 2 || a[0].n != 1 || a[1].n != 2 {
		t.Fatalf("take = %+v, want pushes 1 and 2 in order", a)
	}
	q.push(event{kind: evPush, n: 3})
	b := q.take(a) // a becomes the queue's storage, cleared
	if len(b) != 1 || b[0].n != 3 {
		t.Fatalf("take = %+v, want push 3", b)
	}
	if a[1].n != 0 || a[1].raw != nil {
		t.Fatalf("spare not cleared: %+v", a[1])
	}
	q.push(event{kind: evPush, n: 4})
	c := q.take(b)
	if len(c) != 1 || c[0].n != 4 {
		t.Fatalf("take = %+v, want push 4", c)
	}
	if &c[0] != &a[0] {
		t.Fatal("the queue did not store push 4 in the spare it was given")
	}
	q.push(event{kind: evPush, n: 5})
	_ = q.take(make([]event, maxSpare+1)) // too large to keep
	q.push(event{kind: evPush, n: 6})
	if d := q.take(nil); len(d) != 1 || d[0].n != 6 || cap(d) > maxSpare {
		t.Fatalf("take = %d events, capacity %d: want push 6 in storage of at most %d", len(d), cap(d), maxSpare)
	}
}
