using System.Diagnostics;
using System.Runtime.InteropServices;
using Xunit;

namespace CatsDogs.ML.Tests;

/// <summary>
/// Runs the built <c>catsdogs</c> command line as a process, bounded by a timeout: a hang fails the test (the process
/// tree is killed) instead of stalling CI.
/// </summary>
internal static class CliProcess
{
    /// <summary>
    /// The CLI as its own project built it (samples/CatsDogs.Cli/bin, the tests' configuration), so it runs with its
    /// own dependencies as a user's would: the copy beside the tests lacks what the ASP.NET Core framework the tests
    /// use provides (System.Threading.RateLimiting, which the broker client needs).
    /// </summary>
    public static string Dll { get; } = FindCli();

    private static string FindCli()
    {
        var tfm = new DirectoryInfo(AppContext.BaseDirectory).Name; // …/bin/Release/net10.0/
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        var own = Path.Combine(TestEnvironment.RepositoryRoot, "samples", "CatsDogs.Cli", "bin", configuration, tfm, "catsdogs.dll");
        return File.Exists(own) ? own : Path.Combine(AppContext.BaseDirectory, "catsdogs.dll");
    }

    // The CLI with these arguments, its output redirected, without colours or telemetry.
    private static ProcessStartInfo StartInfo(string[] args)
    {
        // A test run started in the background (`bash .ci/run &`, nohup) inherits SIGINT ignored, as POSIX shells set
        // for background jobs, and the CLI rightly keeps an inherited SIG_IGN: its Ctrl+C handling would never run.
        // env resets SIGINT to the default, as a terminal has it, then execs dotnet (same pid, so signals reach it).
        var start = new ProcessStartInfo(OperatingSystem.IsLinux() ? "env" : "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (OperatingSystem.IsLinux())
        {
            start.ArgumentList.Add("--default-signal=INT");
            start.ArgumentList.Add("dotnet");
        }

        start.ArgumentList.Add(Dll);
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        start.Environment["TERM"] = "dumb";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        return start;
    }

    public sealed record Result(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed);

    /// <summary>Sends a POSIX signal (INT, TERM or KILL) to a process, at once (no <c>kill</c> process in between).</summary>
    public static void Signal(Process process, string signal)
    {
        var number = signal switch { "INT" => 2, "KILL" => 9, "TERM" => 15, _ => throw new ArgumentOutOfRangeException(nameof(signal), signal, "INT, TERM or KILL") };
        Assert.True(Kill(process.Id, number) == 0, $"kill -{signal} {process.Id} failed (errno {Marshal.GetLastPInvokeError()})");
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    /// <summary>Waits (up to 60 s) until the process has written <paramref name="text"/> to stderr.</summary>
    public static void WaitFor(Func<string> stderr, string text, Process process)
    {
        var clock = Stopwatch.StartNew();
        while (!stderr().Contains(text, StringComparison.Ordinal))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60) && !process.HasExited, $"'{text}' never appeared on stderr: {stderr()}");
            Thread.Sleep(50);
        }
    }

    /// <summary>Runs <paramref name="args"/>; fails the test when the process outlives <paramref name="timeout"/>.</summary>
    public static Result Run(TimeSpan timeout, params string[] args) => Run(timeout, null, args);

    /// <summary>
    /// Runs <paramref name="args"/>, calling <paramref name="whileRunning"/> with the process once started and a
    /// function that returns what it has written to stderr so far.
    /// </summary>
    public static Result Run(TimeSpan timeout, Action<Process, Func<string>>? whileRunning, params string[] args)
    {
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(StartInfo(args))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = new System.Text.StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (stderr)
                {
                    stderr.Append(e.Data).Append('\n');
                }
            }
        };
        process.BeginErrorReadLine();
        string StderrSoFar()
        {
            lock (stderr)
            {
                return stderr.ToString();
            }
        }

        whileRunning?.Invoke(process, StderrSoFar);
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"catsdogs {string.Join(' ', args)} did not finish within {timeout.TotalSeconds:F0} s (killed). stderr so far: {StderrSoFar()}");
        }

        process.WaitForExit(); // also drains the redirected streams
        return new Result(process.ExitCode, stdout.Result, StderrSoFar(), clock.Elapsed);
    }

    /// <summary>
    /// Starts <paramref name="args"/> in the background (a worker, a gather); dispose the handle to kill it if it is
    /// still running, so a failing test never leaves processes behind.
    /// </summary>
    public static Background Start(params string[] args) => new(args);

    /// <summary>A <c>catsdogs</c> process running in the background, with what it has written so far.</summary>
    public sealed class Background : IDisposable
    {
        private readonly Process _process;
        private readonly System.Text.StringBuilder _stdout = new(), _stderr = new();

        internal Background(string[] args)
        {
            Arguments = string.Join(' ', args);
            _process = Process.Start(StartInfo(args))!;
            _process.OutputDataReceived += (_, e) => Append(_stdout, e.Data);
            _process.ErrorDataReceived += (_, e) => Append(_stderr, e.Data);
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public string Arguments { get; }

        public Process Process => _process;

        public string Stdout => Read(_stdout);

        public string Stderr => Read(_stderr);

        /// <summary>Waits (up to <paramref name="timeout"/>) until stderr contains <paramref name="text"/>.</summary>
        public void WaitForStderr(string text, TimeSpan timeout)
        {
            var clock = Stopwatch.StartNew();
            while (!Stderr.Contains(text, StringComparison.Ordinal))
            {
                Assert.True(clock.Elapsed < timeout && !_process.HasExited, $"catsdogs {Arguments}: '{text}' never appeared on stderr within {timeout.TotalSeconds:F0} s: {Stderr}");
                Thread.Sleep(50);
            }
        }

        /// <summary>Waits for the exit, failing the test (and killing the process) after <paramref name="timeout"/>.</summary>
        public int WaitForExit(TimeSpan timeout)
        {
            if (!_process.WaitForExit(timeout))
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit();
                Assert.Fail($"catsdogs {Arguments} did not finish within {timeout.TotalSeconds:F0} s (killed). stderr: {Stderr}");
            }

            _process.WaitForExit(); // drains the redirected streams
            return _process.ExitCode;
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }

            _process.Dispose();
        }

        private static void Append(System.Text.StringBuilder to, string? line)
        {
            if (line is not null)
            {
                lock (to)
                {
                    to.Append(line).Append('\n');
                }
            }
        }

        private static string Read(System.Text.StringBuilder from)
        {
            lock (from)
            {
                return from.ToString();
            }
        }
    }

    /// <summary>Asserts a failure that a person can read: exit code 1, one "error:" line, no stack trace.</summary>
    public static void AssertCleanFailure(Result result, string because)
    {
        Assert.True(result.ExitCode == 1, $"{because}: exit code {result.ExitCode}, stderr: {result.Stderr}");
        Assert.DoesNotContain("   at ", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("(Parameter '", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("error: ", result.Stderr, StringComparison.Ordinal);
    }
}
