using System.Globalization;
using System.Runtime.InteropServices;

namespace Herald.Bench;

/// <summary>One measured figure and the SPEC §5 target it is compared with.</summary>
/// <param name="HigherIsBetter">True for throughput targets (≥), false for latency and size targets (≤).</param>
public sealed record Figure(string Name, double Value, string Unit, double? Target, bool HigherIsBetter, string Note = "")
{
    public string Verdict => Target is not { } target ? "-" : (HigherIsBetter ? Value >= target : Value <= target) ? "meets" : "below";
}

/// <summary>Prints figures as they are measured and the final table; every line is grep-able.</summary>
public sealed class Report
{
    private readonly List<Figure> _figures = [];

    public static void Line(string text) => Console.WriteLine(text);

    public static void Info(string text) => Console.WriteLine("  # " + text);

    public void Add(Figure figure) => _figures.Add(figure);

    public void PrintTable()
    {
        Line("");
        Line("== figures vs SPEC §5 ==");
        Line($"{"figure",-34} {"measured",16} {"target",16}  verdict");
        foreach (var f in _figures)
        {
            var target = f.Target is { } t ? (f.HigherIsBetter ? "≥ " : "≤ ") + Format(t) + " " + f.Unit : "(info)";
            Line($"{f.Name,-34} {Format(f.Value) + " " + f.Unit,16} {target,16}  {f.Verdict}");
        }
    }

    public static string Format(double value) => value switch
    {
        >= 1000 => value.ToString("N0", CultureInfo.InvariantCulture),
        >= 100 => value.ToString("F0", CultureInfo.InvariantCulture),
        _ => value.ToString("F1", CultureInfo.InvariantCulture),
    };

    public static string Ms(double ms) => ms.ToString("F1", CultureInfo.InvariantCulture) + " ms";

    /// <summary>Machine description for the header.</summary>
    public static void PrintMachine(string storage, string? databaseVersion)
    {
        Line("== machine ==");
        Line($"cores: {Environment.ProcessorCount}, {CpuModel()}");
        Line($"memory: {MemTotalMb()} MB (MemTotal, /proc/meminfo)");
        Line($"os: {RuntimeInformation.OSDescription} ({RuntimeInformation.OSArchitecture})");
        Line($".net: {RuntimeInformation.FrameworkDescription}, server GC: {System.Runtime.GCSettings.IsServerGC}, dynamic PGO: {OnOff("System.Runtime.TieredPGO", "DOTNET_TieredPGO")}, quick JIT: {OnOff("System.Runtime.TieredCompilation.QuickJit", "DOTNET_TC_QuickJit")}");
        Line($"storage: {storage}{(databaseVersion is null ? "" : " — " + databaseVersion)}");
        Line($"load average (1/5/15 min) at start: {LoadAverage()}");
        Line($"uptime at start: {Uptime()}");
    }

    /// <summary>A runtime switch as this process runs it: the environment variable overrides runtimeconfig.json.</summary>
    private static string OnOff(string runtimeConfig, string environment) =>
        (Environment.GetEnvironmentVariable(environment) ?? AppContext.GetData(runtimeConfig)?.ToString()) is "0" or "false" or "False" ? "off" : "on";

    /// <summary>The CPU's model name (/proc/cpuinfo): the same core count can be a much slower machine.</summary>
    private static string CpuModel()
    {
        var line = File.Exists("/proc/cpuinfo") ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal)) : null;
        return line is null ? "cpu model unknown" : line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
    }

    /// <summary>The output of <c>uptime</c> (load average over 1/5/15 min), recorded with every run.</summary>
    public static string Uptime()
    {
        try
        {
            using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("uptime") { RedirectStandardOutput = true, UseShellExecute = false });
            if (process is null)
            {
                return LoadAverage();
            }

            var text = process.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit();
            return text;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "load average: " + LoadAverage();
        }
    }

    public static string LoadAverage()
    {
        try
        {
            var parts = File.ReadAllText("/proc/loadavg").Split(' ');
            return string.Join(' ', parts.Take(3));
        }
        catch (IOException)
        {
            return "n/a";
        }
    }

    /// <summary>Resident set size of this process (host and load generator together), in MB.</summary>
    public static double RssMb() => ProcStatusKb("/proc/self/status", "VmRSS:") / 1024.0;

    /// <summary>Resident set size of another process, and its peak (VmHWM) since it started, in MB (0 when gone).</summary>
    public static (double Rss, double Peak) RssMb(int pid) =>
        (ProcStatusKb($"/proc/{pid}/status", "VmRSS:") / 1024.0, ProcStatusKb($"/proc/{pid}/status", "VmHWM:") / 1024.0);

    private static long MemTotalMb() => ProcStatusKb("/proc/meminfo", "MemTotal:") / 1024;

    private static long ProcStatusKb(string file, string key)
    {
        try
        {
            foreach (var line in File.ReadLines(file))
            {
                if (line.StartsWith(key, StringComparison.Ordinal))
                {
                    return long.Parse(line[key.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The process ended (its /proc entry is gone) or the file is unreadable: no figure.
        }

        return 0;
    }
}

/// <summary>Latency percentiles over a sorted copy of the samples (in Stopwatch ticks or milliseconds).</summary>
public sealed class Percentiles
{
    private readonly double[] _sortedMs;

    public Percentiles(IEnumerable<double> milliseconds)
    {
        _sortedMs = [.. milliseconds];
        Array.Sort(_sortedMs);
    }

    public static Percentiles FromTicks(IEnumerable<long> stopwatchTicks) =>
        new(stopwatchTicks.Select(t => t * 1000.0 / System.Diagnostics.Stopwatch.Frequency));

    public int Count => _sortedMs.Length;

    /// <summary>Nearest-rank percentile, <paramref name="p"/> in 0..100.</summary>
    public double At(double p)
    {
        if (_sortedMs.Length == 0)
        {
            return double.NaN;
        }

        var rank = (int)Math.Ceiling(p / 100.0 * _sortedMs.Length);
        return _sortedMs[Math.Clamp(rank - 1, 0, _sortedMs.Length - 1)];
    }

    public double Max => _sortedMs.Length == 0 ? double.NaN : _sortedMs[^1];
}
