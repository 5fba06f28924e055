using System.Globalization;
using Xunit.Sdk;
using Xunit.v3;

namespace Herald.Chaos.Tests.Infrastructure;

/// <summary>
/// Runs the scenarios in a new random order every run, because they share one cluster and each must hold after any
/// other (issue #14: a breaker that misbehaved only after some earlier scenarios was a product bug, not test noise).
/// The seed is printed; <c>HERALD_CHAOS_SEED=&lt;seed&gt;</c> repeats an order, and <c>HERALD_CHAOS_ORDER=A,B,…</c>
/// (method names) puts the named scenarios first, in that order.
/// </summary>
public sealed class ShuffledScenarioOrderer : ITestCaseOrderer
{
    public IReadOnlyCollection<TTestCase> OrderTestCases<TTestCase>(IReadOnlyCollection<TTestCase> testCases)
        where TTestCase : notnull, ITestCase
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("HERALD_CHAOS_SEED"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var given)
            ? given
            : Random.Shared.Next();
        var ordered = testCases.OrderBy(static t => t.UniqueID, StringComparer.Ordinal).ToList();
        new Random(seed).Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(ordered));

        var first = (Environment.GetEnvironmentVariable("HERALD_CHAOS_ORDER") ?? "")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (first.Length > 0)
        {
            ordered = [.. ordered.OrderBy(t => Array.IndexOf(first, t.TestMethod?.MethodName) is var i and >= 0 ? i : first.Length)];
        }

        var names = string.Join(", ", ordered.Select(static t => t.TestMethod?.MethodName));
        TestContext.Current.SendDiagnosticMessage($"Chaos scenario order (HERALD_CHAOS_SEED={seed}): {names}");
        Console.WriteLine($"Chaos scenario order (HERALD_CHAOS_SEED={seed}): {names}");
        return ordered;
    }
}
