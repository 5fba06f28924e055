using Herald.Core.Notifications;
using Herald.Storage;

namespace Herald.Channels.Providers;

/// <summary>
/// Picks which healthy provider account of a channel takes a send. The seam for pools and cost policies
/// (<c>cheapest | fastest | preferred</c>): a richer selector replaces the default without touching the dispatcher.
/// </summary>
public interface IProviderSelector
{
    /// <summary>Index into <paramref name="candidates"/> (never empty, all healthy) of the account to try next.</summary>
    int Pick(Guid tenantId, Channel channel, OutboundMessage message, IReadOnlyList<ProviderAccount> candidates);
}

/// <summary>
/// Weighted random among accounts with a positive <see cref="ProviderAccount.Weight"/>; accounts with weight 0 or
/// less are standbys, used (uniformly) only when no weighted account is healthy.
/// </summary>
public sealed class WeightedRandomProviderSelector : IProviderSelector
{
    public int Pick(Guid tenantId, Channel channel, OutboundMessage message, IReadOnlyList<ProviderAccount> candidates)
    {
        if (candidates.Count == 1)
        {
            return 0;
        }

        long total = 0;
        foreach (var account in candidates)
        {
            total += Math.Max(account.Weight, 0);
        }

        if (total == 0)
        {
            return Random.Shared.Next(candidates.Count);
        }

        var roll = Random.Shared.NextInt64(total);
        for (var i = 0; i < candidates.Count; i++)
        {
            roll -= Math.Max(candidates[i].Weight, 0);
            if (roll < 0)
            {
                return i;
            }
        }

        return candidates.Count - 1;
    }
}
