package cli

import (
	"context"
	"fmt"

	"github.com/quenchhq/quench/internal/api"
)

// alertUndo takes inbox triage back through the API: verb "unack" (nobody
// is on the alerts any more) or "restore" (dismissed alerts wait in the
// inbox again).
func alertUndo(ctx context.Context, c *client, out *printer, verb string, ids []int64) error {
	var res struct {
		Alerts []api.AlertJSON `json:"alerts"`
	}
	if err := c.do(ctx, "POST", "/api/v1/alerts/"+verb, map[string]any{"alerts": ids}, out.raw(&res)); err != nil {
		return err
	}
	return out.done(func() {
		for _, a := range res.Alerts {
			if verb == "unack" {
				fmt.Fprintf(out.w, "alert %d no longer acknowledged\n", a.ID)
			} else {
				fmt.Fprintf(out.w, "alert %d restored to the inbox\n", a.ID)
			}
		}
	})
}
