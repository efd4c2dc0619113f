using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using CatsDogs.ML;
using CatsDogs.ML.Data;
using Spectre.Console;

namespace CatsDogs.Cli;

/// <summary>
/// What every command shares: where results and messages go, the error policy (one readable line and exit code 1
/// for any failure, the stack trace only with <c>--verbose</c>, 130 when cancelled), progress, tables and JSON.
/// </summary>
internal sealed class Cli(TextWriter output, TextWriter error)
{
    /// <summary>Print stack traces of failures.</summary>
    public static readonly Option<bool> Verbose = new("--verbose") { Description = "Print the stack trace of a failure.", Recursive = true };

    private static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase, WriteIndented = false };

    /// <summary>Results (stdout).</summary>
    public TextWriter Output { get; } = output;

    /// <summary>Messages, progress and skipped photos (stderr).</summary>
    public TextWriter Error { get; } = error;

    /// <summary>Sets <paramref name="command"/>'s action to <paramref name="body"/> under the error policy.</summary>
    public void SetAction(Command command, Func<ParseResult, CancellationToken, int> body) =>
        command.SetAction((parse, token) => Task.FromResult(Guard(parse, () => body(parse, token))));

    /// <summary>One JSON object on one line of stdout.</summary>
    public void WriteJson(object value) => Output.WriteLine(JsonSerializer.Serialize(value, JsonOptions));

    /// <summary>A Spectre console on stdout that does not wrap tables at 80 columns in logs and pipes.</summary>
    public IAnsiConsole Console()
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Output), Interactive = InteractionSupport.No });
        if (!ReferenceEquals(Output, System.Console.Out) || System.Console.IsOutputRedirected)
        {
            console.Profile.Width = 120;
        }

        return console;
    }

    /// <summary>Prints each skipped photo with its reason on stderr.</summary>
    public void ReportSkipped(IEnumerable<SkippedImage> skipped)
    {
        foreach (var s in skipped)
        {
            Error.WriteLine($"skipped: {s.Image.Path}: {s.Reason}");
        }
    }

    /// <summary>
    /// Fails the run (exit code 1) when a batch used none of its listed photos: an empty result is no answer, and exit
    /// code 0 would pass it off as one. Call it after <see cref="ReportSkipped"/>, before any output is written.
    /// </summary>
    /// <exception cref="InvalidOperationException">Nothing was done.</exception>
    public static void RequireSome(int done, int listed, string verb)
    {
        if (done == 0)
        {
            throw new InvalidOperationException($"Nothing was {verb}: {(listed == 1 ? "the one listed photo was" : $"all {listed} listed photos were")} skipped (reasons above); no output was written.");
        }
    }

    /// <summary>One line naming where the backbones run, plus the reason when a requested GPU is not used.</summary>
    public void ReportProviders(CatsDogsClassifier classifier)
    {
        var providers = classifier.ExecutionProviders;
        Error.WriteLine($"ONNX Runtime: {string.Join(", ", providers.Select(p => $"{p.Backbone} on {p.Provider}"))}.");
        foreach (var notice in providers.Select(p => p.Notice).OfType<string>().Distinct())
        {
            Error.WriteLine($"notice: {notice}");
        }
    }

    /// <summary>Live progress bars on a terminal; a line every 10% when stderr is redirected (logs, CI, tests).</summary>
    public T WithProgress<T>(Func<IProgress<CatsDogsProgress>, T> work)
    {
        if (!ReferenceEquals(Error, System.Console.Error) || System.Console.IsErrorRedirected || Environment.GetEnvironmentVariable("TERM") == "dumb")
        {
            var lastDecile = new Dictionary<string, int>();
            return work(new SyncProgress(p =>
            {
                var decile = p.Total == 0 ? 10 : p.Completed * 10 / p.Total;
                lock (lastDecile)
                {
                    if (!lastDecile.TryGetValue(p.Stage, out var seen) || decile > seen)
                    {
                        lastDecile[p.Stage] = decile;
                        Error.WriteLine($"{p.Stage}: {p.Completed}/{p.Total}");
                    }
                }
            }));
        }

        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(System.Console.Error) });
        return console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(context =>
            {
                var tasks = new Dictionary<string, ProgressTask>();
                return work(new SyncProgress(p =>
                {
                    lock (tasks)
                    {
                        if (!tasks.TryGetValue(p.Stage, out var task))
                        {
                            task = tasks[p.Stage] = context.AddTask(Markup.Escape(p.Stage), maxValue: Math.Max(1, p.Total));
                        }

                        task.Value = p.Completed;
                    }
                }));
            });
    }

    /// <summary>Invariant formatting for tables.</summary>
    public static string F(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);

    private int Guard(ParseResult parse, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (OperationCanceledException)
        {
            Error.WriteLine("Cancelled.");
            return CliApp.Cancelled;
        }
        catch (Exception e) when (e is CatsDogsException or ArgumentException or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            Error.WriteLine($"error: {OneLine(e.Message)}");
            WriteStack(parse, e);
            return CliApp.Failure;
        }
        catch (Exception e)
        {
            Error.WriteLine($"error: unexpected {e.GetType().Name}: {OneLine(e.Message)}" + (parse.GetValue(Verbose) ? "" : " (run with --verbose for details)"));
            WriteStack(parse, e);
            return CliApp.Failure;
        }
    }

    private void WriteStack(ParseResult parse, Exception e)
    {
        if (parse.GetValue(Verbose))
        {
            Error.WriteLine(e.ToString());
        }
    }

    // Messages end without .NET's " (Parameter 'x')" and stay on one line.
    private static string OneLine(string message)
    {
        var at = message.IndexOf(" (Parameter '", StringComparison.Ordinal);
        var text = at >= 0 ? message[..at] : message;
        return text.ReplaceLineEndings(" ");
    }

    // Progress<T> posts to the thread pool and may report after the work ends; this reports inline, in order.
    private sealed class SyncProgress(Action<CatsDogsProgress> report) : IProgress<CatsDogsProgress>
    {
        public void Report(CatsDogsProgress value) => report(value);
    }
}
