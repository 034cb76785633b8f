# made by scripts/attack-study; run with: gnuplot docs/results/attack-femnist-all.gp
set datafile separator ','
set terminal png size 1200,420
set output 'docs/results/attack-femnist-all.png'
set multiplot layout 1,3
set grid
set xrange [-0.02:0.32]
set xlabel 'fraction of malicious clients'
set ylabel 'honest clients: mean accuracy'
set key bottom left
set title 'femnist-mean (epsilon 8, s = 5)'
plot 'docs/results/attack-femnist-signflip-mean/summary.csv' using 3:6:($10/sqrt($7)) skip 1 with yerrorlines title 'signflip', 'docs/results/attack-femnist-scaled-mean/summary.csv' using 3:6:($10/sqrt($7)) skip 1 with yerrorlines title 'scaled', 'docs/results/attack-femnist-gaussian-mean/summary.csv' using 3:6:($10/sqrt($7)) skip 1 with yerrorlines title 'gaussian', 'docs/results/attack-femnist-labelflip-mean/summary.csv' using 3:6:($10/sqrt($7)) skip 1 with yerrorlines title 'labelflip'
set title 'femnist-multikrum8 (epsilon 8, s = 5)'
plot 'docs/results/attack-femnist-signflip-multikrum8/summary.csv' using 3:6:($10/sqrt($7)) skip 1 with yerrorlines title 'signflip', 'docs/results/attack-femnist-scaled-multikrum8/summary.csv' using 3:6:($10/sqrt($7)) skip 1 with yerrorlines title 'scaled', 'docs/results/attack-femnist-gaussian-multikrum8/summary.csv' using 3:6:($10/sqrt($7)) skip 1 with yerrorlines title 'gaussian', 'docs/results/attack-femnist-labelflip-multikrum8/summary.csv' using 3:6:($10/sqrt($7)) skip 1 with yerrorlines title 'labelflip'
set title 'femnist-mean8 (epsilon 8, s = 5)'
plot 'docs/results/attack-femnist-signflip-mean8/summary.csv' using 3:6:($10/sqrt($7)) skip 1 with yerrorlines title 'signflip', 'docs/results/attack-femnist-scaled-mean8/summary.csv' using 3:6:($10/sqrt($7)) skip 1 with yerrorlines title 'scaled', 'docs/results/attack-femnist-gaussian-mean8/summary.csv' using 3:6:($10/sqrt($7)) skip 1 with yerrorlines title 'gaussian', 'docs/results/attack-femnist-labelflip-mean8/summary.csv' using 3:6:($10/sqrt($7)) skip 1 with yerrorlines title 'labelflip'
unset multiplot
