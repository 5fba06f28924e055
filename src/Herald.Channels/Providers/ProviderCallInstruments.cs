using System.Diagnostics.Metrics;
using Herald.Core.Delivery;
using Herald.Core.Providers;

namespace Herald.Channels.Providers;

/// <summary>
/// The duration of each provider call on Herald's meter (<c>herald_provider_call_duration_seconds</c>, exported on
/// <c>/metrics</c> by the host), by channel, provider kind, account and outcome. Static, like the connectors' own
/// HTTP instrumentation: the dispatcher records one value per call and needs no host wiring for it; a host that
/// does not listen to the "Herald" meter pays one check per call.
/// </summary>
public static class ProviderCallInstruments
{
    private static readonly double[] Buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    private static readonly Meter Meter = new(RateLimiting.RateLimitInstruments.MeterName);

    private static readonly Histogram<double> Duration = Meter.CreateHistogram<double>("herald.provider.call.duration", unit: "s",
        description: "One send to a provider account (its rate-limit permit, then the connector call inside its timeout and circuit breaker), by channel, provider, account and outcome.",
        tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = Buckets });

    /// <summary>Records one finished call to <paramref name="account"/>.</summary>
    public static void Record(ProviderAccount account, SendOutcomeKind outcome, TimeSpan duration)
    {
        if (!Duration.Enabled)
        {
            return;
        }

        Duration.Record(duration.TotalSeconds,
            new("channel", account.Channel.ToString().ToLowerInvariant()), new("provider", account.Kind),
            new("account", account.Id.ToString()), new("outcome", outcome.ToString().ToLowerInvariant()));
    }
}
