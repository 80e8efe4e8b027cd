package explain

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// WriteText prints a report for people: the object, its allocation, the
// port and path or topology, the owned rows by table, and what is missing.
func WriteText(w io.Writer, r Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(format string, a ...any) { fmt.Fprintf(tw, format+"\n", a...) }
	state := ""
	if r.Exists != nil && !*r.Exists {
		state = " (does not exist)"
	}
	p("%s %s%s", r.Kind, r.Name, state)
	if pod := r.Pod; pod != nil {
		p("  phase:\t%s", pod.Phase)
		if pod.NodeName != "" {
			p("  node:\t%s\tsubnets %s", pod.NodeName, orNone(pod.NodeSubnets))
		}
		if pod.HostNetwork {
			p("  host network:\ttrue")
		}
		if len(pod.IPs) > 0 {
			p("  pod-networks:\t%s\tmac %s, gateways %s", strings.Join(pod.IPs, " "), pod.MAC, orNone(pod.Gateways))
		}
		if port := pod.Port; port != nil {
			p("")
			p("Logical_Switch_Port %s", port.Name)
			p("  switch:\t%s", orNone(nonEmpty(port.Switch)))
			p("  addresses:\t%s", orNone(port.Addresses))
			p("  port_security:\t%s", orNone(port.PortSecurity))
			p("  requested-chassis:\t%s", orNone(nonEmpty(port.RequestedChassis)))
			p("  up:\t%t", port.Up)
		}
		if b := pod.Binding; b != nil {
			p("")
			p("SB Port_Binding %s", b.LogicalPort)
			writeBinding(p, b)
		}
		if len(pod.Path) > 0 {
			p("")
			p("Router path")
			writeHops(p, pod.Path)
		}
	}
	if node := r.Node; node != nil {
		p("  subnets:\t%s", orNone(node.Subnets))
		p("  chassis id:\t%s", orNone(nonEmpty(node.ChassisID)))
		if c := node.Chassis; c != nil {
			p("  SB chassis:\t%s\thostname %s", c.Name, c.Hostname)
		}
		if b := node.ManagementPort; b != nil {
			p("")
			p("SB Port_Binding %s (management port)", b.LogicalPort)
			writeBinding(p, b)
		}
		if len(node.Topology) > 0 {
			p("")
			p("Topology")
			writeHops(p, node.Topology)
		}
	}
	if len(r.Annotations) > 0 {
		p("")
		p("Annotations")
		keys := make([]string, 0, len(r.Annotations))
		for k := range r.Annotations {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p("  %s:\t%s", k, r.Annotations[k])
		}
	}
	p("")
	if len(r.Rows) == 0 {
		p("NB rows owned by %s/%s: none", r.Kind, r.Name)
	} else {
		p("NB rows owned by %s/%s", r.Kind, r.Name)
		for _, t := range r.Rows {
			p("  %s", t.Table)
			for _, row := range t.Rows {
				p("    %s\t%s\t%s", row.Name, row.Summary, row.UUID)
			}
		}
	}
	p("")
	if len(r.Missing) == 0 {
		p("Missing: nothing")
	} else {
		p("Missing")
		for _, m := range r.Missing {
			p("  - %s", m)
		}
	}
	return tw.Flush()
}

func writeBinding(p func(string, ...any), b *Binding) {
	p("  chassis:\t%s", orNone(nonEmpty(b.Chassis)))
	if b.Hostname != "" {
		p("  hostname:\t%s", b.Hostname)
	}
	p("  up:\t%t", b.Up)
}

func writeHops(p func(string, ...any), hops []Hop) {
	for _, h := range hops {
		detail := h.Detail
		if !h.Found {
			detail = "MISSING"
		}
		p("  %s\t%s\t%s\t%s", h.Table, h.Name, detail, h.Role)
	}
}

// WriteTraceText prints a trace: the packet, the pipelines it crossed and
// where it ended, ports named by their owners.
func WriteTraceText(w io.Writer, r TraceReport) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(format string, a ...any) { fmt.Fprintf(tw, format+"\n", a...) }
	what := r.Protocol
	if r.Port != 0 {
		what = fmt.Sprintf("%s/%d", r.Protocol, r.Port)
	}
	p("Trace %s -> %s (%s -> %s %s)", r.Source, r.Destination, r.SrcIP, r.DstIP, what)
	p("  $ %s", shellJoin(r.Command))
	p("")
	p("Path")
	for _, h := range r.Hops {
		out := ""
		if h.OutPort != "" {
			out = " -> " + h.OutPort
		}
		p("  %s\t%s\t%s%s", h.Datapath, h.Pipeline, h.InPort, out)
	}
	p("")
	if len(r.Verdicts) == 0 {
		p("Verdict: none (ovn-trace reported neither an output nor a drop; rerun the command above)")
	}
	for _, v := range r.Verdicts {
		p("Verdict: %s", verdictText(v))
	}
	if r.Delivered != nil && !*r.Delivered {
		p("Not delivered to %s (port %s)", r.Destination, r.DestinationPort)
	}
	return tw.Flush()
}

func verdictText(v Verdict) string {
	if v.Action == "drop" {
		s := "drop in " + v.Datapath + " " + v.Pipeline
		if v.Owner != "" {
			s += " by " + v.Owner
		}
		if v.Stage != "" {
			s += fmt.Sprintf(", stage %s, priority %d: %s", v.Stage, v.Priority, v.Match)
		}
		return s
	}
	s := fmt.Sprintf("output to %s", v.Port)
	if v.Owner != "" {
		s += " (" + v.Owner + ")"
	} else if v.PortType != "" {
		s += " (type " + v.PortType + ")"
	}
	return s
}

// shellJoin quotes the arguments that need it for a shell.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " \"'*&|<>()$;!") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, ", ")
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
