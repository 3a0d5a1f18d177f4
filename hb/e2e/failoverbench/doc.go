// Package failoverbench measures heartbeat-go against heartbeat 3.0.6.
package failoverbench
