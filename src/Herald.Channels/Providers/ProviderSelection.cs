using Herald.Core.Notifications;
using Herald.Core.Providers;
using Herald.Core.Routing;

namespace Herald.Channels.Providers;

/// <summary>What a selector knows about one send.</summary>
/// <param name="Policy">The route's cost policy (<see cref="CostPolicy.Preferred"/> when the rules set none).</param>
/// <param name="Country">The destination's ISO 3166-1 alpha-2 country, null when the channel has none.</param>
/// <param name="Latency">Observed send latency per account, for <see cref="CostPolicy.Fastest"/>.</param>
public sealed record ProviderChoice(Guid TenantId, Channel Channel, OutboundMessage Message, CostPolicy Policy, string? Country, ProviderLatency Latency);

/// <summary>
/// Picks which healthy provider account of a channel takes a send. The seam for pools and cost policies
/// (<c>cheapest | fastest | preferred</c>): a richer selector replaces the default without touching the dispatcher.
/// </summary>
public interface IProviderSelector
{
    /// <summary>Index into <paramref name="candidates"/> (never empty, all healthy) of the account to try next.</summary>
    int Pick(ProviderChoice choice, IReadOnlyList<ProviderAccount> candidates);
}

/// <summary>
/// Weighted random among accounts with a positive <see cref="ProviderAccount.Weight"/>; accounts with weight 0 or
/// less are standbys, used (uniformly) only when no weighted account is healthy. The <c>preferred</c> policy.
/// </summary>
public sealed class WeightedRandomProviderSelector : IProviderSelector
{
    public int Pick(ProviderChoice choice, IReadOnlyList<ProviderAccount> candidates) => PickWeighted(candidates);

    internal static int PickWeighted(IReadOnlyList<ProviderAccount> candidates)
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

/// <summary>
/// The cost policies. Standbys (weight 0 or less) stay standbys under every policy: they are only considered when no
/// positively weighted account is healthy.
/// <list type="bullet">
/// <item><c>preferred</c>: <see cref="WeightedRandomProviderSelector"/>.</item>
/// <item><c>cheapest</c>: the lowest price for the destination country (the table's country entry, else its
/// <c>"*"</c>); accounts without a price for it come last; ties go to the higher weight, then to the older account.
/// Prices in different currencies are compared as numbers (a pool is expected to be priced in one currency).</item>
/// <item><c>fastest</c>: the lowest observed latency (<see cref="ProviderLatency"/>); an account not yet measured
/// counts as fastest, so every account gets measured; ties as for cheapest.</item>
/// </list>
/// </summary>
public sealed class CostPolicyProviderSelector : IProviderSelector
{
    public int Pick(ProviderChoice choice, IReadOnlyList<ProviderAccount> candidates)
    {
        if (candidates.Count == 1)
        {
            return 0;
        }

        if (choice.Policy == CostPolicy.Preferred)
        {
            return WeightedRandomProviderSelector.PickWeighted(candidates);
        }

        var anyWeighted = false;
        foreach (var account in candidates)
        {
            anyWeighted |= account.Weight > 0;
        }

        var best = -1;
        var bestScore = 0.0;
        for (var i = 0; i < candidates.Count; i++)
        {
            var account = candidates[i];
            if (anyWeighted && account.Weight <= 0)
            {
                continue;
            }

            var score = choice.Policy == CostPolicy.Cheapest
                ? (double?)account.Prices?.PriceFor(choice.Country) ?? double.PositiveInfinity
                : choice.Latency.Get(account.Id) ?? 0;
            if (best < 0 || score < bestScore || (score.Equals(bestScore) && account.Weight > candidates[best].Weight))
            {
                best = i;
                bestScore = score;
            }
        }

        return best;
    }
}
