using Herald.Core.Notifications;

namespace Herald.Channels.Providers.RateLimiting;

/// <summary>What the rate limiter reports to the host's meter (Herald.Server's HeraldMetrics implements it).</summary>
public interface IRateLimitMetrics
{
    /// <summary>One permit asked for: granted or turned away, and where the decision came from.</summary>
    void Permit(Priority priority, RateLimitMode mode, bool granted);

    /// <summary>The node switched between the shared limiter, local fallback and recovery.</summary>
    void ModeChanged(RateLimitMode mode);
}

/// <summary>Reports nothing (hosts without a meter, tests).</summary>
public sealed class NoRateLimitMetrics : IRateLimitMetrics
{
    public void Permit(Priority priority, RateLimitMode mode, bool granted)
    {
    }

    public void ModeChanged(RateLimitMode mode)
    {
    }
}
