using System.Security.Cryptography;

namespace Herald.EndToEnd.Tests.Infrastructure;

public static class TestData
{
    /// <summary>A fresh valid German mobile number, optionally ending in a sandbox magic suffix (SPEC §6).</summary>
    public static string Phone(string suffix = "")
    {
        var digits = 8 - suffix.Length;
        var random = RandomNumberGenerator.GetInt32(1, (int)Math.Pow(10, digits)).ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(digits, '1');
        return "+49151" + random + suffix;
    }

    public static string ChatId(string suffix = "") =>
        RandomNumberGenerator.GetInt32(100_000, 999_999).ToString(System.Globalization.CultureInfo.InvariantCulture) + suffix;

    /// <summary>Waits for a condition with a deadline; no fixed sleeps.</summary>
    public static async Task<T> EventuallyAsync<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan within, string what)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        T last;
        do
        {
            last = await probe();
            if (done(last))
            {
                return last;
            }

            await Task.Delay(50);
        }
        while (clock.Elapsed < within);

        Assert.Fail($"Timed out waiting for {what}; last value: {last}");
        return last;
    }
}
