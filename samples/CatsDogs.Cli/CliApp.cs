using System.CommandLine;
using CatsDogs.Cli.Commands;

namespace CatsDogs.Cli;

/// <summary>The <c>catsdogs</c> command line: one class per command under <c>Commands/</c>, shared options under <c>Options/</c>.</summary>
public static class CliApp
{
    /// <summary>Exit code of a run that failed (bad folder, model, photos, options, or an unexpected error).</summary>
    public const int Failure = 1;

    /// <summary>Exit code of a run cancelled with Ctrl+C or SIGTERM.</summary>
    public const int Cancelled = 130;

    /// <summary>Parses and runs <paramref name="args"/>, writing results to <paramref name="output"/> and messages to <paramref name="error"/>.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        var cli = new Cli(output, error);
        var root = new RootCommand("catsdogs — tell cats from dogs with pretrained ImageNet backbones (ONNX) and an ML.NET logistic head.")
        {
            Cli.Verbose,
            TrainCommand.Create(cli),
            EvaluateCommand.Create(cli),
            PredictCommand.Create(cli),
            SubmitCommand.Create(cli),
            FusionReportCommand.Create(cli),
            AuditCommand.Create(cli),
            ExplainCommand.Create(cli),
            ExportCommand.Create(cli),
            InfoCommand.Create(cli),
            WorkerCommand.Create(cli),
            ScatterCommand.Create(cli),
            GatherCommand.Create(cli),
            BackbonesCommand.Create(cli),
        };
        var configuration = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null };
        try
        {
            return root.Parse(args).InvokeAsync(configuration, cancellationToken).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
            error.WriteLine("Cancelled.");
            return Cancelled;
        }
    }
}
