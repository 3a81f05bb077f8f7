package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"

	"github.com/parley-im/parley"
	"github.com/parley-im/parley/client"
	"github.com/parley-im/parley/wire"
)

// A device that prints every message and read receipt, and sends one
// message.
func ExampleDial() {
	ctx := context.Background()
	c, err := client.Dial(ctx, client.Options{
		URL:    "http://127.0.0.1:8080",
		Token:  "token from POST /v1/server/tokens",
		Device: "laptop",
		OnMessage: func(m parley.Message) {
			fmt.Printf("%s #%d from %s: %s\n", m.ConvID, m.Seq, m.Sender, m.Body)
		},
		OnRead: func(ev wire.ReadEvent) {
			fmt.Printf("%s read %s up to #%d\n", ev.User, ev.Conv, ev.Seq)
		},
		OnState: func(s client.State, err error) {
			log.Printf("connection %s (%v)", s, err)
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	m, err := c.Send(ctx, "bob", parley.KindText, json.RawMessage(`{"text":"hello"}`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("sent as", m.ConvID, m.Seq)
}
