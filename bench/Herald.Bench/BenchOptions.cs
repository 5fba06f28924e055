using System.Globalization;

namespace Herald.Bench;

/// <summary>Command-line settings of one bench run.</summary>
public sealed record BenchOptions(
    bool Quick,
    IReadOnlySet<string> Only,
    string Storage,
    TimeSpan Duration,
    int Backlog,
    int EndToEndCount,
    TimeSpan Warmup)
{
    /// <summary>Tracing on: the host exports OTLP to a sink in this process (its CPU counts in the figures, a little
    /// more than a collector on another machine would cost Herald). Off by default, as in production until asked for.</summary>
    public bool Tracing { get; init; }

    public static readonly string[] AllWorkloads = ["ingest", "batch", "e2e", "critical", "rules"];

    /// <summary>Workloads that run only when named with --only.</summary>
    public static readonly string[] OptInWorkloads = ["file", "fairness", "replies", "purge", "reencrypt", "overview", "split", "split-critical", "soak"];

    /// <summary>Settings appended to Herald's PostgreSQL connection string (<c>--pg "Maximum Pool Size=20"</c>), to compare
    /// pool and preparation settings without a rebuild.</summary>
    public string? PostgresExtra { get; init; }

    /// <summary>How long the soak runs (<c>--soak 10m</c>, <c>--soak 1h</c>); null = no soak. A soak alone: naming it
    /// runs only the soak unless --only names more.</summary>
    public TimeSpan? Soak { get; init; }

    /// <summary>The soak's sustained rate, notifications per second (<c>--soak-rate</c>; default 2,500, half of the
    /// Telegram e2e peak measured on the reference machine).</summary>
    public int SoakRate { get; init; } = 2_500;

    /// <summary>How many inbound replies the replies workload posts (issue #16 names 10,000).</summary>
    public int Replies { get; init; } = 10_000;

    public const int DefaultBacklog = 1_000_000;

    public bool Runs(string workload) => Only.Contains(workload);

    /// <summary>Parses <c>[--quick] [--tracing] [--only a,b] [--storage postgres|sqlite] [--duration s] [--backlog n] [--count n] [--replies n] [--soak 10m] [--soak-rate n]</c>.</summary>
    public static BenchOptions Parse(string[] args)
    {
        var quick = args.Contains("--quick");
        var only = new HashSet<string>(AllWorkloads, StringComparer.OrdinalIgnoreCase);
        var storage = "postgres";
        var duration = quick ? 2 : 10;
        var backlog = quick ? 20_000 : DefaultBacklog;
        var tracing = false;
        var replies = 10_000;
        int? count = null;
        TimeSpan? soak = null;
        var soakRate = 2_500;
        var onlyGiven = false;
        string? postgresExtra = null;
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--quick":
                    break;
                case "--tracing":
                    tracing = true;
                    break;
                case "--only":
                    onlyGiven = true;
                    only = new HashSet<string>(Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), StringComparer.OrdinalIgnoreCase);
                    if (only.FirstOrDefault(w => !AllWorkloads.Contains(w, StringComparer.OrdinalIgnoreCase) && !OptInWorkloads.Contains(w, StringComparer.OrdinalIgnoreCase)) is { } unknown)
                    {
                        throw new ArgumentException($"Unknown workload '{unknown}'. Use: {string.Join(',', AllWorkloads.Concat(OptInWorkloads))}.");
                    }

                    break;
                case "--storage":
                    storage = Next().ToLowerInvariant();
                    if (storage is not ("postgres" or "sqlite"))
                    {
                        throw new ArgumentException("--storage must be postgres or sqlite.");
                    }

                    break;
                case "--duration":
                    duration = int.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--count":
                    count = int.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--replies":
                    replies = int.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--pg":
                    postgresExtra = Next();
                    break;
                case "--soak":
                    soak = ParseSpan(Next());
                    break;
                case "--soak-rate":
                    soakRate = int.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--backlog":
                    backlog = int.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                default:
                    throw new ArgumentException($"Unknown argument '{args[i]}'. Usage: [--quick] [--tracing] [--only ingest,batch,e2e,critical,rules,file,fairness,replies,purge,reencrypt,overview,split,split-critical] [--storage postgres|sqlite] [--duration 10] [--backlog 1000000] [--count 50000] [--replies 10000] [--soak 10m|1h] [--soak-rate 2500] [--pg \"Maximum Pool Size=20\"]");
            }
        }

        if (soak is not null)
        {
            only = onlyGiven ? new HashSet<string>(only.Append("soak"), StringComparer.OrdinalIgnoreCase) : new HashSet<string>(["soak"], StringComparer.OrdinalIgnoreCase);
        }

        return new BenchOptions(
            quick,
            only,
            storage,
            TimeSpan.FromSeconds(duration),
            backlog,
            count ?? (quick ? 5_000 : 50_000),
            quick ? TimeSpan.FromMilliseconds(500) : TimeSpan.FromSeconds(3))
        {
            Tracing = tracing,
            Replies = replies,
            Soak = soak,
            SoakRate = soakRate,
            PostgresExtra = postgresExtra,
        };
    }

    /// <summary>"10m", "1h", "90s" or a number of seconds.</summary>
    private static TimeSpan ParseSpan(string text)
    {
        var unit = text[^1];
        return unit switch
        {
            'h' => TimeSpan.FromHours(double.Parse(text[..^1], CultureInfo.InvariantCulture)),
            'm' => TimeSpan.FromMinutes(double.Parse(text[..^1], CultureInfo.InvariantCulture)),
            's' => TimeSpan.FromSeconds(double.Parse(text[..^1], CultureInfo.InvariantCulture)),
            _ => TimeSpan.FromSeconds(double.Parse(text, CultureInfo.InvariantCulture)),
        };
    }
}
